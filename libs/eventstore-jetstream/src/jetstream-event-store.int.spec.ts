import { jetstream } from '@nats-io/jetstream';
import { aggregateSubject } from '@tunnelkey/contracts';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { eventStoreFeatures } from '@tunnelkey/eventstore/features';
import { JetStreamEventStore } from './jetstream-event-store.js';

// Real NATS on NATS_URL (default nats://127.0.0.1:4222); every test gets its own namespace.
const nats = natsFixture({ prefix: 'es' });
beforeAll(() => nats.setup());
afterAll(() => nats.teardown());

eventStoreFeatures('JetStream', async () => {
  const namespace = nats.subNamespace();
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  // A stopped subscriber's outstanding pull on NATS 2.9 can hold one redelivery until ack_wait
  // (production default 30 s); a short ack_wait keeps the restart tests quick on a busy machine.
  const store = new JetStreamEventStore(nats.nc, {
    namespace,
    logger,
    retryBackoffMs: [20],
    maxHandlerAttempts: 3,
    ackWaitMs: 5_000,
  });
  await store.ensureStreams(['registry']);
  const js = jetstream(nats.nc);
  return {
    store,
    parked: store.parked,
    snapshots: await store.snapshotStore(),
    // A foreign writer: a raw publish, no headers, no checks.
    writeRaw: async (stream, payload) =>
      void (await js.publish(aggregateSubject(stream.context, stream.aggregate, stream.id, namespace), payload)),
    logs,
    close: async () => store.close(),
  };
});

describe('JetStream subscriptions and ack wait', () => {
  const policyEvent = (id: string, name: string) => ({
    type: 'ServerPolicyDefined',
    version: 1,
    id: crypto.randomUUID(),
    aggregateId: id,
    occurredAt: '2026-01-02T03:04:05.000Z',
    causationId: `cause-${id}`,
    correlationId: 'corr-1',
    data: {
      policyId: id,
      name,
      targetIds: [],
      topicRights: [{ topic: 'dev/{deviceId}/up', access: 'publish' }],
      certificateLifetimeDays: 365,
    },
  });

  it('a handler running longer than the ack wait is not redelivered meanwhile (in progress), the next event follows', async () => {
    const namespace = nats.subNamespace();
    const store = new JetStreamEventStore(nats.nc, { namespace, logger: pino({ level: 'silent' }), ackWaitMs: 2_000 });
    await store.ensureStreams(['registry']);
    const stream = { context: 'registry' as const, aggregate: 'policy', id: 'slow' };
    await store.append(stream, [policyEvent('slow', 'one'), policyEvent('slow', 'two')], {
      messageId: 'slow',
      expectedVersion: 'any',
    });
    const handled: string[] = [];
    let done!: () => void;
    const both = new Promise<void>((resolve) => (done = resolve));
    const sub = await store.subscribe({ durable: 'slow-handler', context: 'registry' }, async (recorded) => {
      const name = (recorded.event.data as { name: string }).name;
      handled.push(name);
      if (name === 'one' && handled.length === 1) await new Promise((resolve) => setTimeout(resolve, 5_000));
      if (name === 'two') done();
    });
    await both;
    await sub.stop();
    expect(handled).toEqual(['one', 'two']);
    await store.close();
  });

  it('with concurrency, subjects are handled side by side, one subject in order, and a failure does not hold the rest', async () => {
    const namespace = nats.subNamespace();
    const store = new JetStreamEventStore(nats.nc, {
      namespace,
      logger: pino({ level: 'silent' }),
      retryBackoffMs: [200],
    });
    await store.ensureStreams(['registry']);
    for (const id of ['a', 'b', 'c', 'd'])
      await store.append(
        { context: 'registry', aggregate: 'policy', id },
        [policyEvent(id, `${id}1`), policyEvent(id, `${id}2`), policyEvent(id, `${id}3`)],
        { messageId: id, expectedVersion: 'any' },
      );
    const handled: string[] = [];
    let running = 0;
    let mostAtOnce = 0;
    let failedOnce = false;
    const sub = await store.subscribe(
      { durable: 'side-by-side', context: 'registry', concurrency: 4 },
      async (recorded) => {
        const name = (recorded.event.data as { name: string }).name;
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        await new Promise((resolve) => setTimeout(resolve, 50));
        running--;
        if (name === 'd1' && !failedOnce) {
          failedOnce = true;
          throw new Error('d1 fails once');
        }
        handled.push(name);
      },
    );
    await sub.caughtUp();
    await sub.stop();
    expect(mostAtOnce).toBeGreaterThan(1);
    expect(mostAtOnce).toBeLessThanOrEqual(4);
    expect([...handled].sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'b3', 'c1', 'c2', 'c3', 'd1', 'd2', 'd3']);
    for (const id of ['a', 'b', 'c'])
      expect(handled.filter((n) => n.startsWith(id))).toEqual([1, 2, 3].map((i) => `${id}${i}`));
    const info = await nats.jsm.consumers.info(store.streamName('registry'), 'side-by-side');
    expect(info.config.max_ack_pending).toBe(4);
    expect(info.num_ack_pending).toBe(0);
    await store.close();
  });

  it('a durable made with another ack wait takes this store’s', async () => {
    const namespace = nats.subNamespace();
    const logger = pino({ level: 'silent' });
    const first = new JetStreamEventStore(nats.nc, { namespace, logger, ackWaitMs: 30_000 });
    await first.ensureStreams(['registry']);
    await (await first.subscribe({ durable: 'ack-wait', context: 'registry' }, () => undefined)).stop();
    const second = new JetStreamEventStore(nats.nc, { namespace, logger, ackWaitMs: 2_000 });
    await (await second.subscribe({ durable: 'ack-wait', context: 'registry' }, () => undefined)).stop();
    const info = await nats.jsm.consumers.info(second.streamName('registry'), 'ack-wait');
    expect(info.config.ack_wait).toBe(2_000_000_000);
    await Promise.all([first.close(), second.close()]);
  });
});

describe('JetStream followers share one live tail per filter', () => {
  const policy = (id: string, name: string) => ({
    type: 'ServerPolicyDefined',
    version: 1,
    id: crypto.randomUUID(),
    aggregateId: id,
    occurredAt: '2026-01-02T03:04:05.000Z',
    causationId: `cause-${id}-${name}`,
    correlationId: 'corr-1',
    data: {
      policyId: id,
      name,
      targetIds: [],
      topicRights: [{ topic: 'dev/{deviceId}/up', access: 'publish' }],
      certificateLifetimeDays: 365,
    },
  });
  const names = (events: { event: { data: unknown } }[]) => events.map((r) => (r.event.data as { name: string }).name);

  it('each follower sees every event from its own start once, in order; a late one reads its gap; one consumer serves both', async () => {
    const namespace = nats.subNamespace();
    const store = new JetStreamEventStore(nats.nc, { namespace, logger: pino({ level: 'silent' }) });
    await store.ensureStreams(['registry']);
    const stream = { context: 'registry' as const, aggregate: 'policy', id: 'p1' };
    const write = (name: string) =>
      store.append(stream, [policy('p1', name)], { messageId: `w-${name}`, expectedVersion: 'any' });
    for (const name of ['a', 'b', 'c']) await write(name);

    const first: { event: { data: unknown }; sequence: number }[] = [];
    const early = await store.follow('registry', (r) => void first.push(r), { fromSequence: 2 });
    await early.caughtUp();
    for (const name of ['d', 'e']) await write(name);
    await early.caughtUp();
    // Joins behind the tail (sequence 1 was never delivered to it): reads the gap, then follows.
    const second: { event: { data: unknown }; sequence: number }[] = [];
    const late = await store.follow('registry', (r) => void second.push(r), { fromSequence: 1 });
    await write('f');
    await Promise.all([early.caughtUp(), late.caughtUp()]);
    expect(names(first)).toEqual(['b', 'c', 'd', 'e', 'f']);
    expect(names(second)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(second.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    // One ordered consumer on the stream for both (the gap's replay consumer is gone).
    const consumers = await nats.jsm.consumers.list(store.streamName('registry')).next();
    expect(consumers).toHaveLength(1);
    // The same object goes to both: it is frozen, so no follower can change what another sees.
    const shared = first.find((r) => r.sequence === 6)!;
    expect(second.find((r) => r.sequence === 6)).toBe(shared);
    expect(() => ((shared.event.data as { name: string }).name = 'changed')).toThrow(TypeError);

    // The first leaves: the second keeps following.
    await early.stop();
    await write('g');
    await late.caughtUp();
    expect(names(second).at(-1)).toBe('g');
    expect(names(first).at(-1)).toBe('f');
    await late.stop();
    expect(await nats.jsm.consumers.list(store.streamName('registry')).next()).toHaveLength(0);

    // A follower after the tail closed gets a new one.
    const third: { event: { data: unknown }; sequence: number }[] = [];
    const again = await store.follow('registry', (r) => void third.push(r), { fromSequence: 7 });
    await again.caughtUp();
    expect(names(third)).toEqual(['g']);
    await again.stop();
    await store.close();
  });

  it('followers of different aggregates do not share', async () => {
    const namespace = nats.subNamespace();
    const store = new JetStreamEventStore(nats.nc, { namespace, logger: pino({ level: 'silent' }) });
    await store.ensureStreams(['registry']);
    await store.append({ context: 'registry', aggregate: 'policy', id: 'p2' }, [policy('p2', 'x')], {
      messageId: 'x',
      expectedVersion: 'any',
    });
    const policies: unknown[] = [];
    const batches: unknown[] = [];
    const a = await store.follow('registry', (r) => void policies.push(r), { aggregate: 'policy' });
    const b = await store.follow('registry', (r) => void batches.push(r), { aggregate: 'batch' });
    await Promise.all([a.caughtUp(), b.caughtUp()]);
    expect(policies).toHaveLength(1);
    expect(batches).toHaveLength(0);
    expect(await nats.jsm.consumers.list(store.streamName('registry')).next()).toHaveLength(2);
    await Promise.all([a.stop(), b.stop()]);
    await store.close();
  });
});
