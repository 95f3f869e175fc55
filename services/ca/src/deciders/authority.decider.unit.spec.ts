import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { authorityDecider, type AuthorityCommand, type AuthorityData } from './authority.decider.js';

const metadata = { commandId: 'cmd-1', now: '2026-01-01T00:00:00.000Z' };
const root: AuthorityData = {
  authorityId: 'root',
  role: 'root',
  subject: 'CN=tunnelkey Root CA,O=tunnelkey',
  serialNumber: '0a1b2c',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2046-01-01T00:00:00.000Z',
  keyAlgorithm: 'ECDSA-P256',
  fingerprintSha256: 'a'.repeat(64),
  certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
};
const create: AuthorityCommand = { type: 'CreateAuthority', data: root, metadata };
const exportKey: AuthorityCommand = {
  type: 'ExportAuthorityKey',
  data: { authorityId: 'root', exportDigest: 'b'.repeat(64) },
  metadata,
};
const created = { type: 'AuthorityCreated', version: 1, data: root };
const exported = { type: 'AuthorityKeyExported', version: 1, data: exportKey.data };

const spec = deciderSpecification(authorityDecider, { aggregateId: 'root' });

describe('authority decider', () => {
  describe('when absent', () => {
    it('creates the authority with its public certificate', () => spec.given([]).when(create).then([created]));
    it('refuses to export a key it does not have', () =>
      spec
        .given([])
        .when(exportKey)
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'authority-not-found'));
  });
  describe('when active', () => {
    it('does nothing on a second creation (the first certificate stays)', () =>
      spec
        .given([created])
        .when({ ...create, data: { ...root, serialNumber: 'ffff' } })
        .thenNothingHappened());
    it('records the key export', () => spec.given([created]).when(exportKey).then([exported]));
  });
  describe('when its key is offline', () => {
    it('refuses a second export', () =>
      spec
        .given([created, exported])
        .when(exportKey)
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'key-already-offline'));
  });
});
