import { randomUUID } from 'node:crypto';
import { CommandRejected, InMemoryEventStore, type EventStore } from '@tunnelkey/eventstore';
import { pino } from 'pino';
import { OtherContexts } from '../test-support/other-contexts.test-helper.js';
import { RevocationStatusView } from '../views/revocation-status.view.js';
import { RevokeDevicesHandler } from './revoke-devices.handler.js';
import { revocationIdFor } from './revoke-devices.plan.js';

const logger = pino({ level: 'silent' });
const now = new Date('2026-03-01T12:00:00.000Z');

/** Every event of the revocation log: what the commands wrote. */
async function written(store: EventStore) {
  const events: { type: string; aggregateId: string; data: unknown; actor?: unknown; occurredAt: string }[] = [];
  await store.replay('revocation', ({ event }) => void events.push(event));
  return events;
}

describe('RevokeDevice / RevokeBatch (slice, in-memory store)', () => {
  let store: InMemoryEventStore;
  let view: RevocationStatusView;
  let handler: RevokeDevicesHandler;
  let given: OtherContexts;
  const command = () => ({ commandId: randomUUID() });

  beforeEach(async () => {
    store = new InMemoryEventStore({ logger });
    given = new OtherContexts(store);
    view = await RevocationStatusView.start(store, logger);
    handler = new RevokeDevicesHandler(store, view, () => now, logger);
  });
  afterEach(() => view.stop());

  describe('RevokeDevice', () => {
    it('given an imported device, writes RevocationRequested for it and replies with the revocation', async () => {
      await given.importDevice('d-1', 'b-1');
      const { commandId } = command();
      const actor = { kind: 'operator' as const, id: 'alice' };
      const reply = await handler.revokeDevice({ commandId, deviceId: 'd-1', reason: 'keyCompromise', actor });
      const revocationId = revocationIdFor(commandId);
      expect(reply).toEqual({ revocationId, devices: 1, alreadyRevoked: 0 });
      expect(await written(store)).toEqual([
        expect.objectContaining({
          type: 'RevocationRequested',
          aggregateId: revocationId,
          data: { revocationId, scope: 'device', deviceIds: ['d-1'], reason: 'keyCompromise' },
          actor,
          occurredAt: now.toISOString(),
        }),
      ]);
      // A query right after the reply sees it.
      expect(view.state.coveringRevocation('d-1')).toBe(revocationId);
    });

    it('a retried command gets the same reply and writes nothing more', async () => {
      await given.importDevice('d-1', 'b-1');
      const payload = { ...command(), deviceId: 'd-1', reason: 'keyCompromise' };
      const first = await handler.revokeDevice(payload);
      expect(await handler.revokeDevice(payload)).toEqual(first);
      expect(await written(store)).toHaveLength(1);
    });

    it('a device revoked or being revoked: devices 0, alreadyRevoked 1, the earlier revocation, no write', async () => {
      await given.importDevice('d-1', 'b-1');
      const first = await handler.revokeDevice({ ...command(), deviceId: 'd-1', reason: 'keyCompromise' });
      const again = await handler.revokeDevice({ ...command(), deviceId: 'd-1', reason: 'superseded' });
      expect(again).toEqual({ revocationId: first.revocationId, devices: 0, alreadyRevoked: 1 });
      await given.importDevice('d-2', 'b-1');
      await given.markRevoked('d-2', 'rv-by-registry');
      const byRegistry = await handler.revokeDevice({ ...command(), deviceId: 'd-2', reason: 'superseded' });
      expect(byRegistry).toEqual({ revocationId: 'rv-by-registry', devices: 0, alreadyRevoked: 1 });
      expect(await written(store)).toHaveLength(1);
    });

    it('two commands for one device at once start one saga', async () => {
      await given.importDevice('d-1', 'b-1');
      const replies = await Promise.all([
        handler.revokeDevice({ ...command(), deviceId: 'd-1', reason: 'keyCompromise' }),
        handler.revokeDevice({ ...command(), deviceId: 'd-1', reason: 'keyCompromise' }),
      ]);
      expect(replies.map((r) => r.devices).sort()).toEqual([0, 1]);
      expect(await written(store)).toHaveLength(1);
    });

    it('refuses an unknown device (NOT_FOUND) and a malformed reason, writing nothing', async () => {
      const unknown = await handler
        .revokeDevice({ ...command(), deviceId: 'd-never', reason: 'keyCompromise' })
        .catch((e) => e);
      expect(unknown).toBeInstanceOf(CommandRejected);
      expect(unknown).toMatchObject({ reason: 'NOT_FOUND', message: 'device d-never not found' });
      await given.importDevice('d-1', 'b-1');
      await expect(handler.revokeDevice({ ...command(), deviceId: 'd-1', reason: 'stolen' })).rejects.toMatchObject({
        code: 'CONTRACT_VIOLATION',
      });
      expect(await written(store)).toEqual([]);
    });
  });

  describe('RevokeBatch', () => {
    it('revokes the devices of the batch not revoked yet, counting the others', async () => {
      await given.createBatch('b-1');
      for (const deviceId of ['d-3', 'd-1', 'd-2']) await given.importDevice(deviceId, 'b-1');
      await given.importDevice('d-other', 'b-2');
      const first = await handler.revokeDevice({ ...command(), deviceId: 'd-2', reason: 'keyCompromise' });
      const { commandId } = command();
      const reply = await handler.revokeBatch({ commandId, batchId: 'b-1', reason: 'cessationOfOperation' });
      const revocationId = revocationIdFor(commandId);
      expect(reply).toEqual({ revocationId, devices: 2, alreadyRevoked: 1 });
      const events = await written(store);
      expect(events.map((e) => e.aggregateId)).toEqual([first.revocationId, revocationId]);
      const request = {
        revocationId,
        scope: 'batch',
        batchId: 'b-1',
        deviceIds: ['d-1', 'd-3'],
        reason: 'cessationOfOperation',
      };
      expect(events[1]).toMatchObject({ type: 'RevocationRequested', data: request });
      // Everything revoked now: the batch's earlier revocation, nothing written.
      const again = await handler.revokeBatch({ ...command(), batchId: 'b-1', reason: 'cessationOfOperation' });
      expect(again).toMatchObject({ devices: 0, alreadyRevoked: 3 });
      expect(await written(store)).toHaveLength(2);
    });

    it('refuses an unknown batch (NOT_FOUND) and an empty one (empty-batch), writing nothing', async () => {
      const payload = (batchId: string) => ({ ...command(), batchId, reason: 'keyCompromise' });
      await expect(handler.revokeBatch(payload('b-none'))).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      await given.createBatch('b-empty');
      await expect(handler.revokeBatch(payload('b-empty'))).rejects.toMatchObject({ reason: 'empty-batch' });
      expect(await written(store)).toEqual([]);
    });
  });
});
