import { maxHeldPerRequest } from '@tunnelkey/contracts';
import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { batchDecider, placesTaken, type BatchCommand, type BatchDefinition } from './batch.decider.js';

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
    it('takes new places up to the expected size; members already in the batch take no place', () => {
      const candidates = [
        { alreadyMember: false },
        { alreadyMember: true },
        { alreadyMember: false },
        { alreadyMember: false },
      ];
      expect(placesTaken(10, 8, candidates)).toEqual(['new', 'held', 'new', 'full']);
      expect(placesTaken(10, 10, candidates)).toEqual(['full', 'held', 'full', 'full']);
      expect(placesTaken(10, 12, [{ alreadyMember: false }])).toEqual(['full']);
    });

    const small = { type: 'BatchCreated', version: 1, data: { ...batch, expectedSize: 3 } };
    const reserved = (...deviceIds: string[]) => ({
      type: 'BatchPlacesReserved',
      version: 1,
      data: { batchId: batch.batchId, deviceIds },
    });
    const reserve = (ids: string[], knownMembers = 0, alreadyMember: string[] = []): BatchCommand => ({
      type: 'ReservePlaces',
      data: {
        batchId: batch.batchId,
        knownMembers,
        candidates: ids.map((deviceId) => ({ deviceId, alreadyMember: alreadyMember.includes(deviceId) })),
      },
      metadata,
    });
    const release = (...deviceIds: string[]): BatchCommand => ({
      type: 'ReleasePlaces',
      data: { batchId: batch.batchId, deviceIds },
      metadata,
    });

    it('reserves places on its own stream up to the expected size, whatever the view of the caller', () => {
      // Another instance reserved two places; this one's view has seen none of them yet.
      spec
        .given([small, reserved('d-1', 'd-2')])
        .when(reserve(['d-3', 'd-4']))
        .then([reserved('d-3')]);
      spec
        .given([small, reserved('d-1', 'd-2', 'd-3')])
        .when(reserve(['d-4']))
        .then([]);
    });
    it('takes no new place for a device that holds one, or that the view counts as a member', () => {
      spec
        .given([small, reserved('d-1')])
        .when(reserve(['d-1', 'd-2']))
        .then([reserved('d-2')]);
      spec
        .given([small])
        .when(reserve(['d-1', 'd-2'], 1, ['d-1']))
        .then([reserved('d-2')]);
    });
    it("counts the view's members when it knows more than the log's places (devices that joined before places)", () =>
      spec
        .given([small, reserved('d-1')])
        .when(reserve(['d-4', 'd-5'], 2))
        .then([reserved('d-4')]));
    it('gives back places of devices that could not join, and only places that are held', () => {
      const released = {
        type: 'BatchPlacesReleased',
        version: 1,
        data: { batchId: batch.batchId, deviceIds: ['d-2'] },
      };
      spec
        .given([small, reserved('d-1', 'd-2')])
        .when(release('d-2', 'd-9'))
        .then([released]);
      spec
        .given([small, reserved('d-1', 'd-2'), released])
        .when(release('d-2'))
        .then([]);
      spec
        .given([small, reserved('d-1', 'd-2', 'd-3'), released])
        .when(reserve(['d-4']))
        .then([reserved('d-4')]);
    });
    it('refuses places in a batch that does not exist', () =>
      spec
        .given([])
        .when(reserve(['d-1']))
        .thenThrows(rejectedWith('NOT_FOUND')));
  });
});
