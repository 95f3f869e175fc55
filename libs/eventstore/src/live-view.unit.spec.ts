import { randomUUID } from 'node:crypto';
import { BatchCreated, ServerPolicyDefined } from '@tunnelkey/contracts';
import { pino } from 'pino';
import { InMemoryEventStore } from './in-memory-event-store.js';
import { LiveFeed, type LiveViewSource } from './live-view.js';

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
    const policy = { policyId: 'p-1', name: 'p', targetIds: [], certificateLifetimeDays: 365 };
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
