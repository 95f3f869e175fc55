import { randomUUID } from 'node:crypto';
import { BatchCreated, ServerPolicyDefined } from '@tunnelkey/contracts';
import { pino } from 'pino';
import { InMemoryEventStore } from './in-memory-event-store.js';
import { LiveFeed, LiveView, type LiveViewSource } from './live-view.js';

const batches: LiveViewSource = { context: 'registry', aggregate: 'batch' };
const policies: LiveViewSource = { context: 'registry', aggregate: 'policy' };
const envelope = (aggregateId: string) => {
  const id = randomUUID();
  return { id, aggregateId, occurredAt: new Date().toISOString(), causationId: id, correlationId: id };
};

describe('LiveFeed.catchUp(sources)', () => {
  it('waits for the sources named only: a busy source does not hold up a caller that does not read it', async () => {
    const store = new InMemoryEventStore({ logger: pino({ level: 'silent' }) });
    let release!: () => void;
    const policyBlocked = new Promise<void>((resolve) => (release = resolve));
    const applied: string[] = [];
    const feed = await LiveFeed.start(store, {
      name: 'two-sources',
      sources: [batches, policies],
      apply: async (recorded, source) => {
        if (source === policies) await policyBlocked;
        applied.push(recorded.event.type);
      },
    });
    const policy = { policyId: 'p-1', name: 'p', targetIds: [], certificateLifetimeDays: 365, ownerId: 'acme' };
    const rights = [{ topic: 'devices/{deviceId}/#', access: 'publish-subscribe' as const }];
    const policyEvent = ServerPolicyDefined.create({ ...envelope('p-1'), data: { ...policy, topicRights: rights } });
    await store.append({ context: 'registry', aggregate: 'policy', id: 'p-1' }, [policyEvent], {
      expectedVersion: 0,
      messageId: 'p-1',
    });
    const batch = { batchId: 'b-1', name: 'b', policyId: 'p-1', ownerId: 'acme', expectedSize: 1 };
    await store.append(
      { context: 'registry', aggregate: 'batch', id: 'b-1' },
      [BatchCreated.create({ ...envelope('b-1'), data: batch })],
      {
        expectedVersion: 0,
        messageId: 'b-1',
      },
    );

    await feed.catchUp([batches]);
    expect(applied).toEqual(['BatchCreated']);
    release();
    await feed.catchUp();
    expect(applied).toEqual(['BatchCreated', 'ServerPolicyDefined']);
    await feed.stop();
  });
});

describe('LiveView checkpoint saves', () => {
  it('a save that fails is tried again without waiting for more events, and the next start loads it', async () => {
    const store = new InMemoryEventStore({ logger: pino({ level: 'silent' }) });
    const checkpoints = await store.viewCheckpointStore();
    const save = checkpoints.save.bind(checkpoints);
    let failures = 1;
    checkpoints.save = async (key, data) => {
      if (failures-- > 0) throw new Error('bus too slow');
      return save(key, data);
    };
    const policy = { policyId: 'p-2', name: 'p', targetIds: [], certificateLifetimeDays: 365, ownerId: 'acme' };
    const rights = [{ topic: 'devices/{deviceId}/#', access: 'publish-subscribe' as const }];
    await store.append(
      { context: 'registry', aggregate: 'policy', id: 'p-2' },
      [ServerPolicyDefined.create({ ...envelope('p-2'), data: { ...policy, topicRights: rights } })],
      { expectedVersion: 0, messageId: 'p-2' },
    );
    const logs: { event?: string; retryInMs?: number }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const definition = {
      name: 'retried',
      sources: [policies],
      checkpoint: { owner: 'registry' as const, version: 1 },
      initialState: () => ({ count: 0 }),
      evolve: (state: { count: number }) => ({ count: state.count + 1 }),
    };
    // The rebuild folded one event: its save fails once, then is tried again after 1 s.
    const view = await LiveView.start(store, definition, { logger });
    const saved = async () => logs.some((l) => l.event === 'eventstore.view_checkpoint_saved');
    for (let i = 0; i < 100 && !(await saved()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(logs.find((l) => l.event === 'eventstore.view_checkpoint_failed')?.retryInMs).toBe(1_000);
    expect(await saved()).toBe(true);
    await view.stop();

    // A second start loads that checkpoint: nothing replayed, nothing saved again.
    const again: typeof logs = [];
    const next = await LiveView.start(store, definition, {
      logger: pino({ level: 'info' }, { write: (line: string) => void again.push(JSON.parse(line)) }),
    });
    expect(next.state).toEqual({ count: 1 });
    await next.stop();
    expect(again.some((l) => l.event === 'eventstore.view_checkpoint_saved')).toBe(false);
  });
});
