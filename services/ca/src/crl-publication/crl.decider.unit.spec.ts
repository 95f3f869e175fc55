import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { crlDecider, type CrlData, type PublishCrlCommand } from './crl.decider.js';

const crl = (crlNumber: number, thisUpdate = '2026-03-01T12:00:00.000Z'): CrlData => ({
  authorityId: 'issuing-acme',
  crlNumber,
  issuer: 'CN=tunnelkey Issuing CA acme',
  thisUpdate,
  nextUpdate: '2026-03-08T12:00:00.000Z',
  url: 'http://127.0.0.1:3102/crl/issuing-acme.crl',
  revokedCount: crlNumber,
  crlDigest: 'a'.repeat(64),
});
const publish = (data: CrlData): PublishCrlCommand => ({ type: 'PublishCrl', data, metadata: { commandId: `crl-${data.crlNumber}`, now: data.thisUpdate } });
const published = (data: CrlData) => ({ type: 'CrlPublished', version: 1, data });
const spec = deciderSpecification(crlDecider, { aggregateId: 'issuing-acme' });

describe('CRL decider', () => {
  describe('when the authority has no CRL', () => {
    it('publishes number 1', () => spec.given([]).when(publish(crl(1))).then([published(crl(1))]));
    it('refuses any other number', () => spec.given([]).when(publish(crl(2))).thenThrows(CommandRejected));
  });
  describe('when the authority has published CRLs', () => {
    it('publishes the next number', () => spec.given([published(crl(1)), published(crl(2))]).when(publish(crl(3))).then([published(crl(3))]));
    it('refuses a number already used (another instance was first): the caller rebuilds', () =>
      spec.given([published(crl(1)), published(crl(2))]).when(publish(crl(2))).thenThrows((e) => e instanceof CommandRejected && e.reason === 'stale-crl-number'));
    it('refuses a thisUpdate earlier than the last CRL', () =>
      spec.given([published(crl(1, '2026-03-02T00:00:00.000Z'))]).when(publish(crl(2, '2026-03-01T00:00:00.000Z'))).thenThrows(CommandRejected));
  });
  it('refuses a nextUpdate that does not follow thisUpdate', () =>
    spec.given([]).when(publish({ ...crl(1), nextUpdate: '2026-03-01T12:00:00.000Z' })).thenThrows(CommandRejected));
});
