import { maxHeldPerRequest } from '@tunnelkey/contracts';
import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { admitToBatch, batchDecider, type BatchCommand, type BatchDefinition } from './batch.decider.js';

const metadata = { commandId: 'cmd-1', now: '2026-01-01T00:00:00.000Z' };
const batch: BatchDefinition = {
  batchId: 'fridges-2026',
  name: '1,000 fridges',
  policyId: 'fridges',
  ownerId: 'acme',
  expectedSize: 1000,
};
const created = { type: 'BatchCreated', version: 1, data: batch };
const create = (policyStatus: 'Defined' | 'Undefined', data: BatchDefinition = batch): BatchCommand => ({
  type: 'CreateBatch',
  data: { ...data, policyStatus },
  metadata,
});
const importRecord = { batchId: batch.batchId, importId: 'file-1', source: 'csv' as const, accepted: 10, rejected: 2 };
const recordImport: BatchCommand = { type: 'RecordImport', data: importRecord, metadata };
const keyRequest = { batchId: batch.batchId, requestId: 'ask-1', expiresAt: '2026-01-01T01:00:00.000Z' };
const requestKeys: BatchCommand = { type: 'RequestEnrolmentKeys', data: keyRequest, metadata };
const rejectedWith = (reason: string) => (error: unknown) =>
  error instanceof CommandRejected && error.reason === reason;
const spec = deciderSpecification(batchDecider, { aggregateId: batch.batchId });

describe('batch decider', () => {
  describe('when no batch exists', () => {
    it('creates it when its policy is defined', () => spec.given([]).when(create('Defined')).then([created]));
    it('refuses it when the policy is not defined', () =>
      spec.given([]).when(create('Undefined')).thenThrows(rejectedWith('unknown-policy')));
    it('refuses imports and key requests with NOT_FOUND', () => {
      spec.given([]).when(recordImport).thenThrows(rejectedWith('NOT_FOUND'));
      spec.given([]).when(requestKeys).thenThrows(rejectedWith('NOT_FOUND'));
    });
  });

  describe('when created', () => {
    it('treats the same creation as a retry and refuses another definition', () => {
      spec.given([created]).when(create('Defined')).thenNothingHappened();
      spec
        .given([created])
        .when(create('Defined', { ...batch, expectedSize: 5 }))
        .thenThrows(rejectedWith('CONFLICT'));
    });

    it('records an import once per importId', () => {
      const imported = { type: 'IdentitiesImported', version: 1, data: importRecord };
      spec.given([created]).when(recordImport).then([imported]);
      spec.given([created, imported]).when(recordImport).thenNothingHappened();
    });

    it('records an enrolment-key request once per requestId', () => {
      const requested = { type: 'EnrolmentKeysRequested', version: 1, data: keyRequest };
      spec.given([created]).when(requestKeys).then([requested]);
      spec.given([created, requested]).when(requestKeys).thenNothingHappened();
    });
  });

  describe('manufacturer keys and held enrolments', () => {
    const requested = { type: 'EnrolmentKeysRequested', version: 1, data: keyRequest };
    const named = { ...keyRequest, requestId: 'ask-named', deviceIds: ['d-one'] };
    const namedRequested = { type: 'EnrolmentKeysRequested', version: 1, data: named };
    const key = { batchId: batch.batchId, keyId: 'acme', publicKey: 'AAAA', keyDigest: 'ab'.repeat(32) };
    const register = (data = key): BatchCommand => ({ type: 'RegisterManufacturerKey', data, metadata });
    const registered = { type: 'ManufacturerKeyRegistered', version: 1, data: key };
    const holdData = (deviceId: string, requestId = 'ask-1') => ({
      batchId: batch.batchId,
      requestId,
      deviceId,
      enrolmentPublicKey: 'AAAA',
      enrolmentKeyDigest: 'cd'.repeat(32),
      firmwareMeasurement: 'ef'.repeat(32),
      reason: 'unattested' as const,
    });
    const hold = (deviceId: string, requestId?: string): BatchCommand => ({
      type: 'HoldEnrolment',
      data: holdData(deviceId, requestId),
      metadata,
    });
    const heldEvent = (deviceId: string) => ({
      type: 'EnrolmentApprovalRequested',
      version: 1,
      data: holdData(deviceId),
    });
    const decide = (decision: 'approved' | 'rejected'): BatchCommand => ({
      type: 'DecideHeldEnrolment',
      data: { batchId: batch.batchId, requestId: 'ask-1', deviceId: 'd-one', decision },
      metadata,
    });

    it('registers a manufacturer key once; another key under the same id is a conflict', () => {
      spec.given([created]).when(register()).then([registered]);
      spec.given([created, registered]).when(register()).thenNothingHappened();
      spec
        .given([created, registered])
        .when(register({ ...key, keyDigest: '12'.repeat(32) }))
        .thenThrows(rejectedWith('CONFLICT'));
    });

    it('holds a device once per open request, never on a named one, and at most maxHeldPerRequest', () => {
      spec
        .given([created, requested])
        .when(hold('d-one'))
        .then([heldEvent('d-one')]);
      spec
        .given([created, requested, heldEvent('d-one')])
        .when(hold('d-one'))
        .thenNothingHappened();
      spec
        .given([created, namedRequested])
        .when(hold('d-one', 'ask-named'))
        .thenThrows(rejectedWith('not-open-request'));
      const full = Array.from({ length: maxHeldPerRequest }, (_, i) => heldEvent(`d-${i}`));
      spec
        .given([created, requested, ...full])
        .when(hold('d-one'))
        .thenThrows(rejectedWith('hold-full'));
    });

    it('decides a held device once; the other decision afterwards is a conflict', () => {
      const held = [created, requested, heldEvent('d-one')];
      const approved = { type: 'HeldEnrolmentDecided', version: 1, data: decide('approved').data };
      spec.given(held).when(decide('approved')).then([approved]);
      spec
        .given([...held, approved])
        .when(decide('approved'))
        .thenNothingHappened();
      spec
        .given([...held, approved])
        .when(decide('rejected'))
        .thenThrows(rejectedWith('CONFLICT'));
      spec.given([created, requested]).when(decide('rejected')).thenThrows(rejectedWith('not-held'));
    });
  });

  describe('capacity', () => {
    it('admits new members up to the expected size; members already in the batch take no place', () => {
      const candidates = [
        { alreadyMember: false },
        { alreadyMember: true },
        { alreadyMember: false },
        { alreadyMember: false },
      ];
      expect(admitToBatch(10, 8, candidates)).toEqual([true, true, true, false]);
      expect(admitToBatch(10, 10, candidates)).toEqual([false, true, false, false]);
      expect(admitToBatch(10, 12, [{ alreadyMember: false }])).toEqual([false]);
    });
  });
});
