import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { targetDecider, type TargetCommand } from './target.decider.js';

const metadata = { commandId: 'c-1', now: '2026-01-01T00:00:00.000Z' };
const registration = {
  targetId: 'broker-1',
  kind: 'mosquitto' as const,
  name: 'Plant broker',
  host: 'broker.local',
  tlsPort: 8883,
  credentialsRef: 'target-broker-1',
  ownerId: 'acme',
};
const registered = { type: 'TargetRegistered', version: 2, data: registration };
const anchor = { targetId: 'broker-1', authorityId: 'issuing-acme', fingerprintSha256: 'a'.repeat(64) };
const crl = (crlNumber: number) => ({
  targetId: 'broker-1',
  authorityId: 'issuing-acme',
  crlNumber,
  crlDigest: String(crlNumber % 10).repeat(64),
});
const command = <T extends TargetCommand['type']>(type: T, data: Extract<TargetCommand, { type: T }>['data']) =>
  ({ type, data, metadata }) as TargetCommand;
const spec = deciderSpecification(targetDecider);

describe('target decider', () => {
  describe('when unregistered', () => {
    test('RegisterTarget registers it (a credentials reference, never the secret)', () => {
      spec.given([]).when(command('RegisterTarget', registration)).then([registered]);
    });
    test('trust cannot be recorded', () => {
      spec.given([]).when(command('RecordTrustAnchorInstalled', anchor)).thenThrows(CommandRejected);
    });
  });

  describe('when registered', () => {
    test('registering again with the same settings changes nothing', () => {
      spec.given([registered]).when(command('RegisterTarget', registration)).thenNothingHappened();
    });
    test('registering again with other settings is refused', () => {
      spec
        .given([registered])
        .when(command('RegisterTarget', { ...registration, host: 'elsewhere' }))
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'target-exists');
    });
    test('an anchor is recorded once per fingerprint', () => {
      spec
        .given([registered])
        .when(command('RecordTrustAnchorInstalled', anchor))
        .then([{ type: 'TargetTrustAnchorInstalled', version: 1, data: anchor }]);
      spec
        .given([registered, { type: 'TargetTrustAnchorInstalled', version: 1, data: anchor }])
        .when(command('RecordTrustAnchorInstalled', anchor))
        .thenNothingHappened();
    });
    test('only a newer CRL is recorded', () => {
      const given = [registered, { type: 'TargetCrlUpdated', version: 1, data: crl(2) }];
      spec
        .given(given)
        .when(command('RecordCrlUpdated', crl(3)))
        .then([{ type: 'TargetCrlUpdated', version: 1, data: crl(3) }]);
      spec
        .given(given)
        .when(command('RecordCrlUpdated', crl(2)))
        .thenNothingHappened();
      spec
        .given(given)
        .when(command('RecordCrlUpdated', crl(1)))
        .thenNothingHappened();
    });
  });
});
