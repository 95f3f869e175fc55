/**
 * `npm run bench:eventstore`: our append and replay against raw JetStream, same server, same run.
 *
 * 100,000 ServerPolicyDefined events (~300 bytes) over 10,000 policy aggregates (10 each, each
 * aggregate's appends chained on its version), up to 1,000 appends in flight. Baselines: raw
 * `js.publish` of the same bytes with the same message ids and concurrency, and a raw
 * ordered-consumer replay of the same stream. Streams live under a throwaway namespace and are
 * deleted at the end. `--strict` exits 1 when a target is missed.
 */
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, createInbox, headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import { aggregateSubject, type EventEnvelope } from '@tunnelkey/contracts';
import { pino } from 'pino';
import { handleCommand } from '@tunnelkey/eventstore';
import type { Command, Decider, NewEvent } from '@tunnelkey/eventstore';
import { noStream, type StreamRef } from '@tunnelkey/eventstore';
import { JetStreamEventStore } from '../jetstream-event-store.js';
import { LiveView } from '@tunnelkey/eventstore';
import { AggregateStateCache } from '@tunnelkey/eventstore';

const total = Number(process.env['BENCH_EVENTS'] ?? 100_000);
const perAggregate = 10;
const inFlight = Number(process.env['BENCH_IN_FLIGHT'] ?? 1_000);
const warmup = 5_000;
const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const strict = process.argv.includes('--strict');

interface Work {
  stream: StreamRef;
  subject: string;
  events: EventEnvelope[];
  payloads: Uint8Array[];
}

function makeWork(namespace: string, label: string, count: number): Work[] {
  const encoder = new TextEncoder();
  const work: Work[] = [];
  for (let a = 0; a * perAggregate < count; a++) {
    const id = `${label}${a.toString(36)}`;
    const stream: StreamRef = { context: 'registry', aggregate: 'policy', id };
    const events = Array.from({ length: Math.min(perAggregate, count - a * perAggregate) }, (_, i) => ({
      type: 'ServerPolicyDefined',
      version: 1,
      id: crypto.randomUUID(),
      aggregateId: id,
      occurredAt: '2026-01-02T03:04:05.000Z',
      causationId: `${id}.${i}`,
      correlationId: id,
      data: {
        policyId: id,
        name: `fridges ${a}.${i}`,
        targetIds: [],
        topicRights: [{ topic: 'f/{deviceId}/t', access: 'publish' as const }],
        certificateLifetimeDays: 365,
      },
    }));
    work.push({
      stream,
      subject: aggregateSubject('registry', 'policy', id, namespace),
      events,
      payloads: events.map((e) => encoder.encode(JSON.stringify(e))),
    });
  }
  return work;
}

/** Appends every aggregate's events in order (each on the previous version), at most `inFlight` appends outstanding. */
async function drive(
  work: Work[],
  appendOne: (w: Work, i: number, previous: number) => Promise<number>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let w = work[next++]; w; w = work[next++]) {
      let version = noStream;
      for (let i = 0; i < w.events.length; i++) version = await appendOne(w, i, version);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, work.length) }, worker));
}

async function rawReplay(nc: NatsConnection, stream: string): Promise<number> {
  const js = jetstream(nc);
  const started = performance.now();
  const consumer = await js.consumers.get(stream, {});
  let remaining = (await consumer.info(true)).num_pending;
  const count = remaining;
  const messages = await consumer.consume({ max_messages: 1_000, threshold_messages: 500 });
  for await (const msg of messages) {
    if (--remaining <= 0 || msg.info.pending === 0) break;
  }
  messages.stop();
  return (count / (performance.now() - started)) * 1000;
}

/** A decider whose every command appends one event: the cost measured is load + decide + append. */
const revisionDecider: Decider<Command<'Revise', { id: string; n: number }>, EventEnvelope, number> = {
  initialState: () => 0,
  decide: (command, revisions) => [
    {
      type: 'ServerPolicyDefined',
      version: 1,
      data: {
        policyId: command.data.id,
        name: `revision ${revisions + 1}`,
        targetIds: [],
        topicRights: [{ topic: 'f/{deviceId}/t', access: 'publish' }],
        certificateLifetimeDays: 365,
      },
    } as NewEvent<EventEnvelope>,
  ],
  evolve: (revisions) => revisions + 1,
};

/**
 * handleCommand on `aggregates` streams that already hold `history` events: one more command each,
 * `inFlight` at once, reading the stream (direct gets) vs deciding on an AggregateStateCache entry.
 */
async function commandRates(
  store: JetStreamEventStore,
  aggregates: number,
  history: number,
  concurrency: number,
): Promise<{ read: number; cached: number }> {
  const label = `cmd${randomBytes(2).toString('hex')}`;
  const streams = Array.from(
    { length: aggregates },
    (_, a): StreamRef => ({ context: 'registry', aggregate: 'policy', id: `${label}${a.toString(36)}` }),
  );
  const cache = new AggregateStateCache<number>({ maxStreams: aggregates });
  const run = async (round: string, withCache: boolean) => {
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      for (let i = next++; i < streams.length; i = next++) {
        const stream = streams[i]!;
        await handleCommand({
          store,
          decider: revisionDecider,
          stream,
          command: {
            type: 'Revise',
            data: { id: stream.id, n: 0 },
            metadata: { commandId: `${stream.id}.${round}`, now: '2026-01-02T03:04:05.000Z' },
          },
          ...(withCache ? { cache } : {}),
        });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return (aggregates / (performance.now() - started)) * 1000;
  };
  for (let h = 0; h < history; h++) await run(`h${h}`, h === history - 1); // the last one fills the cache
  const read = await run('read', false);
  for (const stream of streams) cache.delete(stream); // stale: the uncached round appended behind them
  await run('warm', true);
  const cached = await run('cached', true);
  return { read, cached };
}

async function main() {
  const nc = await connect({ servers: url, name: 'bench-eventstore' });
  const jsm: JetStreamManager = await jetstreamManager(nc);
  const namespace = `bench${randomBytes(3).toString('hex')}`;
  const store = new JetStreamEventStore(nc, { namespace, logger: pino({ level: 'warn' }) });
  const rawStreams = [`${namespace.toUpperCase()}_RAW`, `${namespace.toUpperCase()}_LEAN`];
  try {
    await store.ensureStreams(['registry']);
    for (const name of rawStreams) {
      await jsm.streams.add({
        name,
        subjects: [`${namespace}.${name.split('_')[1]!.toLowerCase()}.>`],
        storage: 'file' as never,
        duplicate_window: nanos(120_000),
        allow_direct: true,
      });
    }
    const js = jetstream(nc);
    const ours = (w: Work, i: number, version: number) =>
      store
        .append(w.stream, [w.events[i]!], { expectedVersion: version, messageId: w.events[i]!.causationId })
        .then((r) => r.version);
    const raw = (prefix: string) => (w: Work, i: number) =>
      js
        .publish(`${prefix}.${w.stream.id}`, w.payloads[i]!, { msgID: `${w.events[i]!.causationId}:0` })
        .then((ack) => ack.seq);
    // The technique our store uses (one reply inbox, one timer), without the store: the client ceiling.
    const inbox = createInbox();
    const acks = new Map<string, (seq: number) => void>();
    let token = 0;
    nc.subscribe(`${inbox}.*`, {
      callback: (_e, m) => acks.get(m.subject.slice(inbox.length + 1))?.((m.json() as { seq: number }).seq),
    });
    const lean = (prefix: string) => (w: Work, i: number) =>
      new Promise<number>((resolve) => {
        const t = (token++).toString(36);
        acks.set(t, (seq) => (acks.delete(t), resolve(seq)));
        const h = headers();
        h.set('Nats-Msg-Id', `${w.events[i]!.causationId}:0`);
        nc.publish(`${prefix}.${w.stream.id}`, w.payloads[i]!, { headers: h, reply: `${inbox}.${t}` });
      });

    const sample = makeWork(namespace, 'r0x', total).flatMap((w) => w.payloads);
    const sizes = Math.round(sample.reduce((sum, p) => sum + p.length, 0) / sample.length);
    console.log(
      `tunnelkey eventstore bench: ${total} events of ~${sizes} bytes, ${total / perAggregate} aggregates, ${inFlight} appends in flight, ${url}`,
    );
    // Warm up every path (JIT, connections) on separate aggregates.
    await drive(makeWork(namespace, 'warm', warmup), ours);
    await drive(makeWork(namespace, 'warm', warmup), raw(`${namespace}.raw`));
    await drive(makeWork(namespace, 'warm', warmup), lean(`${namespace}.lean`));

    // Interleaved rounds (order rotating), so that load from elsewhere on the machine hits all paths alike.
    const paths = [
      { name: 'raw', run: raw(`${namespace}.raw`), events: 0, ms: 0 },
      { name: 'ours', run: ours, events: 0, ms: 0 },
      { name: 'lean', run: lean(`${namespace}.lean`), events: 0, ms: 0 },
    ];
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < paths.length; k++) {
        const path = paths[(round + k) % paths.length]!;
        const work = makeWork(namespace, `r${round}x`, total / rounds);
        const started = performance.now();
        await drive(work, path.run);
        path.ms += performance.now() - started;
        path.events += total / rounds;
      }
    }
    const [rawRate, ourRate, leanRate] = paths.map((p) => (p.events / p.ms) * 1000) as [number, number, number];

    // Replays of the same stream (our registry stream: warm-up + run events). Best of two each.
    const streamName = store.streamName('registry');
    const replayOurs = async () => {
      // A live view's rebuild is the replay every read model does at start.
      const started = performance.now();
      const view = await LiveView.start(store, {
        name: 'bench',
        sources: [{ context: 'registry' }],
        initialState: () => ({ count: 0, names: new Map<string, string>() }),
        evolve: (state, r) => {
          state.count++;
          state.names.set(r.event.aggregateId, (r.event.data as { name: string }).name);
          return state;
        },
      });
      const rate = (view.state.count / (performance.now() - started)) * 1000;
      await view.stop();
      if (view.state.count !== total + warmup)
        throw new Error(`replay folded ${view.state.count} events, expected ${total + warmup}`);
      return rate;
    };
    // A-B-B-A, averaged: drift in machine load cancels out.
    const r1 = await rawReplay(nc, streamName);
    const o1 = await replayOurs();
    const o2 = await replayOurs();
    const r2 = await rawReplay(nc, streamName);
    const rawReplayRate = 2 / (1 / r1 + 1 / r2);
    const ourReplayRate = 2 / (1 / o1 + 1 / o2);

    const commands = await commandRates(store, 2_000, 5, 64);

    const f = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);
    const appendRatio = ourRate / rawRate;
    const replayRatio = ourReplayRate / rawReplayRate;
    console.log(`append  eventstore         ${f(ourRate)} events/s`);
    console.log(
      `        raw js.publish     ${f(rawRate)} events/s   ratio ${appendRatio.toFixed(2)} (target >= 0.80) ${appendRatio >= 0.8 ? 'OK' : 'MISSED'}`,
    );
    console.log(
      `        raw lean publish   ${f(leanRate)} events/s   ratio ${(ourRate / leanRate).toFixed(2)} (one reply inbox, no store: client ceiling, for information)`,
    );
    console.log(`replay  eventstore + fold  ${f(ourReplayRate)} events/s`);
    console.log(
      `        raw ordered cons.  ${f(rawReplayRate)} events/s   ratio ${replayRatio.toFixed(2)} (target >= 0.50) ${replayRatio >= 0.5 ? 'OK' : 'MISSED'}`,
    );
    console.log(
      `command handleCommand, read   ${f(commands.read)} commands/s   (2,000 aggregates of 5+ events, 64 in flight: load by direct gets, decide, append)`,
    );
    console.log(
      `        AggregateStateCache ${f(commands.cached)} commands/s   x${(commands.cached / commands.read).toFixed(1)} (decide on the cached state, append)`,
    );
    if (strict && (appendRatio < 0.8 || replayRatio < 0.5)) process.exitCode = 1;
  } finally {
    store.close();
    for (const name of [store.streamName('registry'), ...rawStreams, `${namespace.toUpperCase()}_PARKED`]) {
      await jsm.streams.delete(name).catch(() => undefined);
    }
    await nc.close();
  }
}

await main();
