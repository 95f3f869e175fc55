import type { EventEnvelope } from '@tunnelkey/contracts';
import { ConcurrencyError, InMemoryEventStore, noStream, type StreamRef } from '@tunnelkey/eventstore';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { MeteredEventStore, StoreMetrics, storeForView, type LagSource } from './store-metrics.js';

const stream = (id: string): StreamRef => ({ context: 'registry', aggregate: 'policy', id });
const policyDefined = (id: string, name: string): EventEnvelope =>
  ({
    type: 'ServerPolicyDefined',
    version: 1,
    id: crypto.randomUUID(),
    aggregateId: id,
    occurredAt: '2026-01-02T03:04:05.000Z',
    causationId: `cause-${name}`,
    correlationId: 'corr-1',
    data: {
      policyId: id,
      name,
      targetIds: [],
      topicRights: [{ topic: 'dev/{deviceId}/up', access: 'publish' }],
      certificateLifetimeDays: 365,
    },
  }) as EventEnvelope;

function metered(lag?: LagSource) {
  const registry = new Registry();
  const inner = new InMemoryEventStore({ logger: pino({ level: 'silent' }) });
  return { registry, store: new MeteredEventStore(inner, new StoreMetrics(registry, lag)) };
}

const valueOf = async (registry: Registry, name: string, labels: Record<string, string>) => {
  const metric = await registry.getSingleMetric(name)!.get();
  return metric.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
};

describe('MeteredEventStore: the event store with its metrics', () => {
  it('times every append by outcome and counts the conflicts, passing the result and the error through', async () => {
    const { registry, store } = metered();
    const first = await store.append(stream('p-1'), [policyDefined('p-1', 'a')], {
      expectedVersion: noStream,
      messageId: 'm-1',
    });
    expect(first.sequences).toHaveLength(1);
    await expect(
      store.append(stream('p-1'), [policyDefined('p-1', 'b')], { expectedVersion: noStream, messageId: 'm-2' }),
    ).rejects.toBeInstanceOf(ConcurrencyError);

    expect(await valueOf(registry, 'eventstore_append_conflicts_total', { context: 'registry' })).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('eventstore_append_seconds_count{context="registry",outcome="ok"} 1');
    expect(text).toContain('eventstore_append_seconds_count{context="registry",outcome="conflict"} 1');
  });

  it("tracks a durable's and a view's position, and their lag from the lag source, until they stop", async () => {
    const lag: LagSource = { head: async () => 10, pending: async () => 4 };
    const { registry, store } = metered(lag);
    await store.append(stream('p-2'), [policyDefined('p-2', 'a'), policyDefined('p-2', 'b')], {
      expectedVersion: noStream,
      messageId: 'm-3',
    });
    const handled: number[] = [];
    const durable = await store.subscribe(
      { durable: 'demo-reaction', context: 'registry', delivery: 'retry-forever' },
      (recorded) => void handled.push(recorded.sequence),
    );
    const view = await storeForView(store, 'policy-names').follow('registry', () => undefined);
    await durable.caughtUp();
    await view.caughtUp();

    const labels = (kind: string, name: string) => ({ kind, name, context: 'registry' });
    expect(await valueOf(registry, 'eventstore_consumer_position', labels('durable', 'demo-reaction'))).toBe(2);
    expect(await valueOf(registry, 'eventstore_consumer_position', labels('view', 'policy-names'))).toBe(2);
    expect(await valueOf(registry, 'eventstore_consumer_lag_events', labels('durable', 'demo-reaction'))).toBe(4);
    expect(await valueOf(registry, 'eventstore_consumer_lag_events', labels('view', 'policy-names'))).toBe(8);

    await durable.stop();
    await view.stop();
    expect(await valueOf(registry, 'eventstore_consumer_position', labels('durable', 'demo-reaction'))).toBeUndefined();
  });

  it('has no lag gauge without a lag source (a store in memory), and positions only', async () => {
    const { registry } = metered();
    expect(registry.getSingleMetric('eventstore_consumer_lag_events')).toBeUndefined();
    expect(registry.getSingleMetric('eventstore_consumer_position')).toBeDefined();
  });
});
