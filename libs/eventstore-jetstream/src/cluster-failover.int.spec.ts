/**
 * The store on a 3-node JetStream cluster (streams at R3) when the node leading the stream is
 * SIGKILLed, the node the store's client is connected to being that same node (the hard case: the
 * client fails over while the stream and its consumers elect new leaders). After the kill:
 * appends made during the election succeed (retried, deduplicated), a live follower and a durable
 * subscription both see every event, each once, in order.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@tunnelkey/config';
import type { RecordedEvent } from '@tunnelkey/eventstore';
import { startNatsCluster, waitFor, type NatsCluster } from '@tunnelkey/testing';
import { pino } from 'pino';
import { JetStreamEventStore } from './jetstream-event-store.js';

const policyEvent = (name: string) => ({
  type: 'ServerPolicyDefined',
  version: 1,
  id: crypto.randomUUID(),
  aggregateId: name,
  occurredAt: '2026-01-02T03:04:05.000Z',
  causationId: `cause-${name}`,
  correlationId: 'corr-1',
  data: {
    policyId: name,
    name,
    targetIds: [],
    topicRights: [{ topic: 'dev/{deviceId}/up', access: 'publish' as const }],
    certificateLifetimeDays: 365,
  },
});

describe('the event store on a 3-node cluster when the stream leader (and the client its node) is SIGKILLed', () => {
  let cluster: NatsCluster;
  let nc: NatsConnection | undefined;
  let admin: NatsConnection | undefined;
  beforeAll(async () => {
    cluster = await startNatsCluster();
  }, 60_000);
  afterAll(async () => {
    await nc?.close();
    await admin?.close();
    await cluster?.stop();
  });

  it('reads its own writes at once, from a client on a node that does not lead the stream', async () => {
    const namespace = `ryw${crypto.randomUUID().slice(0, 8)}`;
    const setupConnection = await connectNats({ servers: cluster.nodes.map((n) => n.url) });
    const setup = new JetStreamEventStore(setupConnection, {
      namespace,
      replicas: 3,
      logger: pino({ level: 'silent' }),
    });
    await setup.ensureStreams(['registry']);
    const leader = (await (await jetstreamManager(setupConnection)).streams.info(`${namespace.toUpperCase()}_REGISTRY`))
      .cluster!.leader!;
    await setupConnection.close();
    // A replica that is not the leader answers a direct get first here, and may not have applied
    // the append its leader just acknowledged.
    const follower = cluster.nodes.find((n) => n.name !== leader)!;
    const connection = await connectNats({ servers: [follower.url], noRandomize: true });
    try {
      const store = new JetStreamEventStore(connection, { namespace, replicas: 3, logger: pino({ level: 'silent' }) });
      const missed: number[] = [];
      for (let i = 1; i <= 300; i++) {
        const stream = { context: 'registry' as const, aggregate: 'policy', id: 'p-ryw' };
        await store.append(stream, [policyEvent('p-ryw')], { expectedVersion: 'any', messageId: `ryw-${i}` });
        const { events } = await store.read(stream, { after: i - 1 });
        if (events.length !== 1) missed.push(i);
      }
      expect(missed).toEqual([]);
    } finally {
      await connection.close();
    }
  }, 60_000);

  it('appends through the election, and a follower and a durable see every event once, in order', async () => {
    const namespace = `fo${crypto.randomUUID().slice(0, 8)}`;
    admin = await connectNats({ servers: cluster.nodes.map((n) => n.url) });
    const stream = `${namespace.toUpperCase()}_REGISTRY`;
    // The store's stream is created first so that its leader (the node to kill) is known.
    const setup = new JetStreamEventStore(admin, { namespace, replicas: 3, logger: pino({ level: 'silent' }) });
    await setup.ensureStreams(['registry']);
    const jsm = await jetstreamManager(admin);
    const leader = (await jsm.streams.info(stream)).cluster!.leader!;
    const victim = cluster.nodes.findIndex((n) => n.name === leader);
    // The store's client starts on the leader's node (listed first, not shuffled), and knows the others.
    const urls = [cluster.nodes[victim]!.url, ...cluster.nodes.filter((_, i) => i !== victim).map((n) => n.url)];
    nc = await connectNats({ servers: urls, noRandomize: true, reconnectTimeWait: 250 });
    const store = new JetStreamEventStore(nc, {
      namespace,
      replicas: 3,
      logger: pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }),
    });

    const followed: number[] = [];
    const handled: number[] = [];
    const follower = await store.follow('registry', (recorded: RecordedEvent) => void followed.push(recorded.sequence));
    const durable = await store.subscribe(
      { durable: 'failover', context: 'registry', delivery: 'retry-forever' },
      (recorded) => void handled.push(recorded.sequence),
    );
    const append = (i: number) =>
      store.append({ context: 'registry', aggregate: 'policy', id: `p-${i}` }, [policyEvent(`p-${i}`)], {
        expectedVersion: 0,
        messageId: `m-${i}`,
      });
    for (let i = 1; i <= 5; i++) await append(i);
    await waitFor(() => followed.length === 5 && handled.length === 5, { timeoutMs: 20_000 });

    await cluster.kill(victim);
    // Appended while the stream elects a new leader and the client moves to another server.
    for (let i = 6; i <= 15; i++) await append(i);

    const all = Array.from({ length: 15 }, (_, i) => i + 1);
    // Bounded: the comparison below shows what is missing when they never got there.
    await waitFor(() => followed.length >= 15 && handled.length >= 15, { timeoutMs: 90_000 }).catch(() => undefined);
    expect({ followed, handled }).toEqual({ followed: all, handled: all });
    const info = await jsm.streams.info(stream);
    expect({ messages: info.state.messages, last: info.state.last_seq }).toEqual({ messages: 15, last: 15 });
    await follower.stop();
    await durable.stop();
    await store.close();
  }, 120_000);
});
