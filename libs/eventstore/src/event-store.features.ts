/**
 * The event store's contract, as ONE suite run against every implementation of the port
 * (in-memory in `*.unit.spec.ts`, JetStream in `*.int.spec.ts`). No timed assertions: waits are
 * bounded only so that a broken store fails instead of hanging.
 */
import { ServerPolicyDefinedV1, type EventOf } from '@tunnelkey/contracts';
import { withTimeout } from '@tunnelkey/testing';
import { pino } from 'pino';
import { handleCommand, load } from './command-handler.js';
import type { Command, Decider } from './decider.js';
import { CommandRejected, ConcurrencyError, ValidationError } from './errors.js';
import { noStream, type EventStore, type RecordedEvent, type StreamRef } from './event-store.js';
import { LiveFeed, LiveView, type LiveViewDefinition } from './live-view.js';
import type { ParkedEventStore } from './parking.js';
import type { SnapshotStore } from './snapshots.js';
import { decodeViewCheckpoint, viewCheckpointKey } from './view-checkpoints.js';
import { AggregateStateCache } from './state-cache.js';

export interface EventStoreHarness {
  store: EventStore;
  parked: ParkedEventStore;
  snapshots: SnapshotStore;
  /** Writes bytes on the stream's subject with no check at all, as a foreign writer could. */
  writeRaw(stream: StreamRef, payload: string): Promise<void>;
  /** Log lines the store wrote (parsed pino JSON). */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

// The stored v1 shape (before owners): the suite pins what old streams hold.
type PolicyDefined = EventOf<typeof ServerPolicyDefinedV1>;
type DefinePolicy = Command<'DefinePolicy', { name: string; lifetimeDays?: number }>;
interface PolicyState {
  revisions: number;
  names: string[];
}

let counter = 0;
const uniqueId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
const policyStream = (id = uniqueId('p')): StreamRef => ({ context: 'registry', aggregate: 'policy', id });

/** A state-dependent decider: each definition's lifetime is the number of earlier revisions + 1. */
function policyDecider(calls = { decide: 0 }): Decider<DefinePolicy, PolicyDefined, PolicyState> {
  return {
    initialState: () => ({ revisions: 0, names: [] }),
    decide: (command, state) => {
      calls.decide++;
      return [
        {
          type: 'ServerPolicyDefined',
          version: 1,
          data: {
            policyId: 'ignored',
            name: command.data.name,
            targetIds: ['mosquitto-1'],
            topicRights: [{ topic: 'dev/{deviceId}/telemetry', access: 'publish' }],
            certificateLifetimeDays: command.data.lifetimeDays ?? state.revisions + 1,
          },
        },
      ];
    },
    evolve: (state, event) => ({ revisions: state.revisions + 1, names: [...state.names, event.data.name] }),
  };
}

function command(
  name: string,
  commandId = uniqueId('cmd'),
  extra: Partial<DefinePolicy['metadata']> = {},
  lifetimeDays?: number,
): DefinePolicy {
  return {
    type: 'DefinePolicy',
    data: { name, lifetimeDays },
    metadata: { commandId, now: '2026-01-02T03:04:05.000Z', ...extra },
  };
}

function policyEvent(stream: StreamRef, name: string, overrides: Partial<PolicyDefined['data']> = {}): PolicyDefined {
  return {
    type: 'ServerPolicyDefined',
    version: 1,
    id: crypto.randomUUID(),
    aggregateId: stream.id,
    occurredAt: '2026-01-02T03:04:05.000Z',
    causationId: uniqueId('cause'),
    correlationId: 'corr-1',
    data: {
      policyId: stream.id,
      name,
      targetIds: [],
      topicRights: [{ topic: 'dev/{deviceId}/up', access: 'publish' }],
      certificateLifetimeDays: 365,
      ...overrides,
    },
  };
}

/** Delegates to a store, letting a test hook into reads and appends. */
function wrap(store: EventStore, hooks: Partial<Pick<EventStore, 'read' | 'append'>>): EventStore {
  return {
    append: hooks.append ?? ((s, e, o) => store.append(s, e, o)),
    read: hooks.read ?? ((s, o) => store.read(s, o)),
    subscribe: (o, h) => store.subscribe(o, h),
    replay: (c, h, o) => store.replay(c, h, o),
    follow: (c, h, o) => store.follow(c, h, o),
    snapshotStore: () => store.snapshotStore(),
    viewCheckpointStore: () => store.viewCheckpointStore(),
    ensureStreams: (c) => store.ensureStreams(c),
    close: () => store.close(),
  };
}

/** Holds the first read of `parties` callers until all of them have read: they decide on the same version. */
function barrierOnFirstReads(store: EventStore, parties: number): EventStore {
  const waiting: (() => void)[] = [];
  let open = false;
  return wrap(store, {
    read: async (stream, options) => {
      const result = await store.read(stream, options);
      if (!open) {
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length === parties) {
            open = true;
            waiting.forEach((release) => release());
          }
        });
      }
      return result;
    },
  });
}

const bound = <T>(promise: Promise<T>, what: string) => withTimeout(promise, 15_000, what);

export function eventStoreFeatures(implementation: string, createHarness: () => Promise<EventStoreHarness>): void {
  describe(`EventStore contract: ${implementation}`, () => {
    let h: EventStoreHarness;
    beforeEach(async () => {
      h = await createHarness();
    });
    afterEach(async () => {
      await h.close();
    });

    describe('append and read', () => {
      test('a new stream reads empty at version noStream', async () => {
        expect(await h.store.read(policyStream())).toEqual({ events: [], version: noStream });
      });

      test('appended events read back in order with the version to expect next', async () => {
        const stream = policyStream();
        const events = [policyEvent(stream, 'a'), policyEvent(stream, 'b'), policyEvent(stream, 'c')];
        const result = await h.store.append(stream, events, { expectedVersion: noStream, messageId: uniqueId('m') });
        expect(result.duplicate).toBe(false);
        expect(result.sequences).toHaveLength(3);
        expect(result.version).toBe(result.sequences[2]);
        const read = await h.store.read(stream);
        expect(read.events.map((r) => r.event)).toEqual(events);
        expect(read.events.map((r) => r.sequence)).toEqual(result.sequences);
        expect(read.version).toBe(result.version);
        expect(read.events[0]!.subject).toMatch(new RegExp(`registry\\.policy\\.${stream.id}$`));
      });

      test('a stream longer than a few events reads completely (and from a version on)', async () => {
        const stream = policyStream();
        let version = noStream;
        for (let i = 0; i < 30; i++) {
          version = (
            await h.store.append(stream, [policyEvent(stream, `n${i}`)], {
              expectedVersion: version,
              messageId: uniqueId('m'),
            })
          ).version;
          // another aggregate in between, so this stream's sequences are not contiguous
          const other = policyStream();
          await h.store.append(other, [policyEvent(other, 'x')], {
            expectedVersion: noStream,
            messageId: uniqueId('m'),
          });
        }
        const read = await h.store.read(stream);
        expect(read.events.map((r) => r.event.data)).toEqual(
          Array.from({ length: 30 }, (_, i) => expect.objectContaining({ name: `n${i}` })),
        );
        expect(read.version).toBe(version);
        const tail = await h.store.read(stream, { after: read.events[24]!.sequence });
        expect(tail.events.map((r) => (r.event as PolicyDefined).data.name)).toEqual([
          'n25',
          'n26',
          'n27',
          'n28',
          'n29',
        ]);
        expect(tail.version).toBe(version);
        // From every version on (past the last one included): the rest of the stream, at its version.
        for (let k = 0; k <= 30; k++) {
          const rest = await h.store.read(stream, { after: k === 0 ? noStream : read.events[k - 1]!.sequence });
          expect(rest.events.map((r) => r.sequence)).toEqual(read.events.slice(k).map((r) => r.sequence));
          expect(rest.version).toBe(version);
        }
      });

      test('an append on a stale version is refused with ConcurrencyError and writes nothing', async () => {
        const stream = policyStream();
        const first = await h.store.append(stream, [policyEvent(stream, 'a')], {
          expectedVersion: noStream,
          messageId: uniqueId('m'),
        });
        await expect(
          h.store.append(stream, [policyEvent(stream, 'b')], { expectedVersion: noStream, messageId: uniqueId('m') }),
        ).rejects.toBeInstanceOf(ConcurrencyError);
        expect((await h.store.read(stream)).version).toBe(first.version);
        const any = await h.store.append(stream, [policyEvent(stream, 'c')], {
          expectedVersion: 'any',
          messageId: uniqueId('m'),
        });
        expect((await h.store.read(stream)).events.map((r) => r.sequence)).toEqual([first.version, any.version]);
      });

      test('two concurrent writers on one version: exactly one wins, the other gets ConcurrencyError', async () => {
        const stream = policyStream();
        const { version } = await h.store.append(stream, [policyEvent(stream, 'base')], {
          expectedVersion: noStream,
          messageId: uniqueId('m'),
        });
        const outcomes = await Promise.allSettled(
          ['left', 'right'].map((name) =>
            h.store.append(stream, [policyEvent(stream, name)], { expectedVersion: version, messageId: uniqueId('m') }),
          ),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(rejected).toHaveLength(1);
        expect(rejected[0]!.reason).toBeInstanceOf(ConcurrencyError);
        expect(rejected[0]!.reason).toMatchObject({ code: 'CONCURRENCY', name: 'ConcurrencyError' });
        expect((await h.store.read(stream)).events).toHaveLength(2);
      });

      test('re-appending with the same message id writes nothing', async () => {
        const stream = policyStream();
        const events = [policyEvent(stream, 'a'), policyEvent(stream, 'b')];
        const messageId = uniqueId('m');
        const first = await h.store.append(stream, events, { expectedVersion: noStream, messageId });
        const again = await h.store.append(stream, events, { expectedVersion: noStream, messageId });
        expect(again).toEqual({ ...first, duplicate: true });
        expect((await h.store.read(stream)).events).toHaveLength(2);
      });

      test('an event that fails its contract is refused at append and nothing is written', async () => {
        const stream = policyStream();
        const valid = policyEvent(stream, 'ok');
        const invalid = policyEvent(stream, 'bad', { certificateLifetimeDays: 0 });
        const error = await h.store
          .append(stream, [valid, invalid], { expectedVersion: noStream, messageId: uniqueId('m') })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect(error).toMatchObject({
          code: 'VALIDATION',
          context: expect.objectContaining({ index: 1, type: 'ServerPolicyDefined' }),
        });
        expect((error as Error).message).toContain('certificateLifetimeDays');
        await expect(
          h.store.append(stream, [{ ...valid, type: 'NoSuchEvent' }], {
            expectedVersion: noStream,
            messageId: uniqueId('m'),
          }),
        ).rejects.toBeInstanceOf(ValidationError);
        await expect(
          h.store.append(stream, [policyEvent(policyStream(), 'elsewhere')], {
            expectedVersion: noStream,
            messageId: uniqueId('m'),
          }),
        ).rejects.toBeInstanceOf(ValidationError);
        expect(await h.store.read(stream)).toEqual({ events: [], version: noStream });
      });
    });

    describe('handleCommand', () => {
      test('wraps decided events in envelopes derived from the command, and appends them', async () => {
        const stream = policyStream();
        const cmd = command('fridges', uniqueId('cmd'), {
          correlationId: 'corr-9',
          actor: { kind: 'operator', id: 'ada' },
        });
        const result = await handleCommand({ store: h.store, decider: policyDecider(), stream, command: cmd });
        expect(result.alreadyHandled).toBe(false);
        expect(result.events).toEqual([
          expect.objectContaining({
            type: 'ServerPolicyDefined',
            aggregateId: stream.id,
            occurredAt: cmd.metadata.now,
            causationId: cmd.metadata.commandId,
            correlationId: 'corr-9',
            actor: { kind: 'operator', id: 'ada' },
          }),
        ]);
        expect(result.events[0]!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(result.state).toEqual({ revisions: 1, names: ['fridges'] });
        const read = await h.store.read(stream);
        expect(read.events.map((r) => r.event)).toEqual(result.events);
        expect(result.version).toBe(read.version);
      });

      test('a retried command produces identical events and writes them once', async () => {
        const stream = policyStream();
        const cmd = command('fridges');
        const first = await handleCommand({ store: h.store, decider: policyDecider(), stream, command: cmd });
        const calls = { decide: 0 };
        const again = await handleCommand({ store: h.store, decider: policyDecider(calls), stream, command: cmd });
        expect(again.events).toEqual(first.events);
        expect(again.alreadyHandled).toBe(true);
        expect(calls.decide).toBe(0);
        expect((await h.store.read(stream)).events).toHaveLength(1);
      });

      test('two concurrent commands: one wins, the loser reloads and decides again on fresh state', async () => {
        const stream = policyStream();
        await handleCommand({ store: h.store, decider: policyDecider(), stream, command: command('v1') });
        const calls = { decide: 0 };
        const racing = barrierOnFirstReads(h.store, 2);
        const appendOutcomes: string[] = [];
        const observed = wrap(racing, {
          append: (s, e, o) =>
            racing.append(s, e, o).then(
              (r) => (appendOutcomes.push('ok'), r),
              (error: unknown) => (
                appendOutcomes.push(error instanceof ConcurrencyError ? 'conflict' : 'other'),
                Promise.reject(error)
              ),
            ),
        });
        const [left, right] = await bound(
          Promise.all([
            handleCommand({ store: observed, decider: policyDecider(calls), stream, command: command('left') }),
            handleCommand({ store: observed, decider: policyDecider(calls), stream, command: command('right') }),
          ]),
          'two racing commands',
        );
        expect(appendOutcomes.sort()).toEqual(['conflict', 'ok', 'ok']);
        expect(calls.decide).toBe(3);
        // Both first decided on revision 1 (lifetime 2); the loser decided again on revision 2 (lifetime 3).
        const lifetimes = [left, right].map((r) => r.events[0]!.data.certificateLifetimeDays).sort();
        expect(lifetimes).toEqual([2, 3]);
        const read = await h.store.read(stream);
        expect(read.events.map((r) => (r.event as PolicyDefined).data.certificateLifetimeDays)).toEqual([1, 2, 3]);
      });

      test('gives up with ConcurrencyError after bounded retries', async () => {
        const stream = policyStream();
        let interferences = 0;
        // Another writer always gets in between the read and the append.
        const contested = wrap(h.store, {
          append: async (s, e, o) => {
            interferences++;
            await h.store.append(s, [policyEvent(s, `intruder-${interferences}`)], {
              expectedVersion: 'any',
              messageId: uniqueId('m'),
            });
            return h.store.append(s, e, o);
          },
        });
        const calls = { decide: 0 };
        await expect(
          handleCommand({
            store: contested,
            decider: policyDecider(calls),
            stream,
            command: command('never'),
            maxRetries: 2,
          }),
        ).rejects.toBeInstanceOf(ConcurrencyError);
        expect(calls.decide).toBe(3);
      });

      test('snapshots every N events, and loads from the snapshot', async () => {
        const stream = policyStream();
        const decider = policyDecider();
        const snapshots = { store: h.snapshots, every: 2 };
        for (let i = 0; i < 5; i++)
          await handleCommand({ store: h.store, decider, stream, command: command(`n${i}`), snapshots });
        const snapshot = await h.snapshots.load<PolicyState>(stream);
        expect(snapshot).toEqual({
          state: { revisions: 4, names: ['n0', 'n1', 'n2', 'n3'] },
          version: expect.any(Number),
          revision: 1,
        });
        const reads: (number | undefined)[] = [];
        const spy = wrap(h.store, { read: (s, o) => (reads.push(o?.after), h.store.read(s, o)) });
        const loaded = await load(spy, decider, stream, snapshots);
        expect(reads).toEqual([snapshot!.version]);
        expect(loaded.events).toHaveLength(1);
        expect(loaded.state).toEqual({ revisions: 5, names: ['n0', 'n1', 'n2', 'n3', 'n4'] });
        // A snapshot of another revision of the state's shape is ignored.
        expect((await load(h.store, decider, stream, { ...snapshots, revision: 2 })).events).toHaveLength(5);
      });
    });

    describe('handleCommand with a state cache', () => {
      const counting = (store: EventStore) => {
        const reads = { count: 0 };
        return { reads, store: wrap(store, { read: (s, o) => (reads.count++, store.read(s, o)) }) };
      };
      /** Refuses `needs-unlock` until the stream holds a definition named `unlock`. */
      const lockedDecider = (calls = { decide: 0 }): Decider<DefinePolicy, PolicyDefined, PolicyState> => {
        const base = policyDecider(calls);
        return {
          ...base,
          decide: (cmd, state) => {
            if (cmd.data.name === 'needs-unlock' && !state.names.includes('unlock')) {
              calls.decide++;
              throw new CommandRejected('locked', 'not unlocked yet');
            }
            return base.decide(cmd, state);
          },
        };
      };

      test('decides on the cached state: one read for the stream, then none, and the same log as without a cache', async () => {
        const stream = policyStream();
        const { reads, store } = counting(h.store);
        const cache = new AggregateStateCache<PolicyState>();
        const results = [];
        for (let i = 0; i < 4; i++)
          results.push(
            await handleCommand({ store, decider: policyDecider(), stream, command: command(`c${i}`), cache }),
          );
        expect(reads.count).toBe(1);
        expect(results.at(-1)!.state).toEqual({ revisions: 4, names: ['c0', 'c1', 'c2', 'c3'] });
        const read = await h.store.read(stream);
        expect(read.events.map((r) => (r.event as PolicyDefined).data.certificateLifetimeDays)).toEqual([1, 2, 3, 4]);
        expect(results.at(-1)!.version).toBe(read.version);
        expect(cache.get(stream)).toMatchObject({ state: results.at(-1)!.state, version: read.version });
      });

      test('assumeNew: a first command on a new stream is written without a read; on a stream that has events, the guess conflicts and the command is decided on the log', async () => {
        const fresh = policyStream();
        const { reads, store } = counting(h.store);
        const cache = new AggregateStateCache<PolicyState>();
        const initial = policyDecider().initialState;
        const first = await handleCommand({
          store,
          decider: policyDecider(),
          stream: fresh,
          command: command('first'),
          cache: cache.assumeNew(fresh, initial),
        });
        expect(reads.count).toBe(0);
        expect(first.state).toEqual({ revisions: 1, names: ['first'] });

        const used = policyStream();
        await h.store.append(used, [policyEvent(used, 'earlier')], {
          expectedVersion: 'any',
          messageId: uniqueId('m'),
        });
        const calls = { decide: 0 };
        const next = await handleCommand({
          store,
          decider: policyDecider(calls),
          stream: used,
          command: command('next'),
          cache: cache.assumeNew(used, initial),
        });
        expect(calls.decide).toBe(2);
        expect(reads.count).toBe(1);
        expect(next.state).toEqual({ revisions: 2, names: ['earlier', 'next'] });
        expect((await h.store.read(used)).events.map((r) => (r.event as PolicyDefined).data.name)).toEqual([
          'earlier',
          'next',
        ]);
        // An entry it holds is left alone.
        expect(cache.assumeNew(used, initial).get(used)).toMatchObject({ state: next.state, version: next.version });
      });

      test('another writer behind the cache: the append conflicts, the entry is dropped, and the command is decided again on the log', async () => {
        const stream = policyStream();
        const cache = new AggregateStateCache<PolicyState>();
        await handleCommand({ store: h.store, decider: policyDecider(), stream, command: command('mine'), cache });
        await h.store.append(stream, [policyEvent(stream, 'theirs')], {
          expectedVersion: 'any',
          messageId: uniqueId('m'),
        });
        const calls = { decide: 0 };
        const result = await handleCommand({
          store: h.store,
          decider: policyDecider(calls),
          stream,
          command: command('after'),
          cache,
        });
        expect(calls.decide).toBe(2);
        expect(result.state).toEqual({ revisions: 3, names: ['mine', 'theirs', 'after'] });
        expect(result.events[0]!.data.certificateLifetimeDays).toBe(3);
        expect((await h.store.read(stream)).events.map((r) => (r.event as PolicyDefined).data.name)).toEqual([
          'mine',
          'theirs',
          'after',
        ]);
      });

      test('a refusal on a stale cached state is decided again on the log before anyone is told', async () => {
        const stream = policyStream();
        const cache = new AggregateStateCache<PolicyState>();
        await handleCommand({ store: h.store, decider: lockedDecider(), stream, command: command('first'), cache });
        await h.store.append(stream, [policyEvent(stream, 'unlock')], {
          expectedVersion: 'any',
          messageId: uniqueId('m'),
        });
        const result = await handleCommand({
          store: h.store,
          decider: lockedDecider(),
          stream,
          command: command('needs-unlock'),
          cache,
        });
        expect(result.state.names).toEqual(['first', 'unlock', 'needs-unlock']);
        // Refused on the log itself: the refusal reaches the caller, and nothing is written.
        const other = policyStream();
        await expect(
          handleCommand({
            store: h.store,
            decider: lockedDecider(),
            stream: other,
            command: command('needs-unlock'),
            cache,
          }),
        ).rejects.toBeInstanceOf(CommandRejected);
        expect((await h.store.read(other)).events).toEqual([]);
      });

      test('a command retried after it was written is recognised by the entry and answered from the log: same events, no decision, nothing written twice', async () => {
        const stream = policyStream();
        const { reads, store } = counting(h.store);
        const cache = new AggregateStateCache<PolicyState>();
        const cmd = command('once');
        const first = await handleCommand({ store, decider: policyDecider(), stream, command: cmd, cache });
        const calls = { decide: 0 };
        const again = await handleCommand({ store, decider: policyDecider(calls), stream, command: cmd, cache });
        expect(again).toMatchObject({ alreadyHandled: true, events: first.events, version: first.version });
        expect(calls.decide).toBe(0);
        expect(reads.count).toBe(2);
        expect((await h.store.read(stream)).events).toHaveLength(1);
      });

      test('keeps at most maxStreams streams, dropping the least recently used', async () => {
        const cache = new AggregateStateCache<PolicyState>({ maxStreams: 2 });
        const [a, b, c] = [policyStream(), policyStream(), policyStream()];
        for (const stream of [a, b])
          await handleCommand({ store: h.store, decider: policyDecider(), stream, command: command('x'), cache });
        cache.get(a);
        await handleCommand({ store: h.store, decider: policyDecider(), stream: c, command: command('x'), cache });
        expect(cache.size).toBe(2);
        expect(cache.get(b)).toBeUndefined();
        expect(cache.get(a)).toBeDefined();
        expect(cache.get(c)).toBeDefined();
      });

      test('with snapshots too: the cache counts folded events, so snapshots are still taken every N', async () => {
        const stream = policyStream();
        const cache = new AggregateStateCache<PolicyState>();
        const snapshots = { store: h.snapshots, every: 2 };
        for (let i = 0; i < 5; i++)
          await handleCommand({
            store: h.store,
            decider: policyDecider(),
            stream,
            command: command(`n${i}`),
            snapshots,
            cache,
          });
        expect(await h.snapshots.load<PolicyState>(stream)).toEqual({
          state: { revisions: 4, names: ['n0', 'n1', 'n2', 'n3'] },
          version: expect.any(Number),
          revision: 1,
        });
      });
    });

    describe('live views', () => {
      const names: LiveViewDefinition<{ applied: number[]; names: Record<string, string> }> = {
        name: 'policy-names',
        sources: [{ context: 'registry', aggregate: 'policy' }],
        initialState: () => ({ applied: [], names: {} }),
        evolve: (state, recorded) => {
          state.applied.push(recorded.sequence);
          state.names[recorded.event.aggregateId] = (recorded.event as PolicyDefined).data.name;
          return state;
        },
      };

      async function seed(n: number): Promise<number[]> {
        const sequences: number[] = [];
        for (let i = 0; i < n; i++) {
          const stream = policyStream();
          sequences.push(
            ...(
              await h.store.append(stream, [policyEvent(stream, `view-${i}`)], {
                expectedVersion: noStream,
                messageId: uniqueId('m'),
              })
            ).sequences,
          );
        }
        return sequences;
      }

      test('a view is rebuilt from the log at start, follows it live, and catches up on demand', async () => {
        const before = await seed(3);
        const view = await LiveView.start(h.store, names);
        expect(view.ready).toBe(true);
        expect(view.state.applied).toEqual(before);
        const after = await seed(2);
        await bound(view.catchUp(), 'view catchUp');
        expect(view.state.applied).toEqual([...before, ...after]);
        expect(view.checkpoint({ context: 'registry', aggregate: 'policy' })).toBe(after.at(-1));
        await view.stop();
        expect(view.ready).toBe(false);
      });

      describe('checkpointed views', () => {
        interface Folded {
          byName: Map<string, Set<number>>;
          /** Large enough over a few events to need several messages on JetStream (chunks). */
          padding: Map<number, string>;
          count: number;
        }
        const checkpointed = (name: string, version: number, counter: { folds: number }) =>
          ({
            name,
            // Two feeds over the same events: a position per source.
            sources: [{ context: 'registry', aggregate: 'policy' }, { context: 'registry' }],
            initialState: () => ({ byName: new Map(), padding: new Map(), count: 0 }),
            evolve: (state, recorded) => {
              counter.folds++;
              const name = (recorded.event as PolicyDefined).data.name;
              state.byName.set(name, (state.byName.get(name) ?? new Set()).add(recorded.sequence));
              state.padding.set(recorded.sequence, `${name}:`.padEnd(300_000, '.'));
              state.count++;
              return state;
            },
            checkpoint: { owner: 'registry', version },
          }) satisfies LiveViewDefinition<Folded>;

        test('a view started from its checkpoint folds only the tail and equals the view rebuilt from scratch', async () => {
          const name = uniqueId('checkpointed');
          await seed(3);
          const first = await LiveView.start(h.store, checkpointed(name, 1, { folds: 0 }));
          await seed(2);
          await bound(first.catchUp(), 'first catchUp');
          await first.stop(); // saves the checkpoint
          const tail = await seed(2);

          const counter = { folds: 0 };
          const resumed = await LiveView.start(h.store, checkpointed(name, 1, counter));
          // Two sources, each folding the tail once.
          expect(counter.folds).toBe(2 * tail.length);
          const scratch = await LiveView.start(h.store, { ...checkpointed(uniqueId('scratch'), 1, { folds: 0 }) });
          expect(resumed.state).toEqual(scratch.state);
          expect(resumed.state.byName).toBeInstanceOf(Map);
          for (const source of checkpointed(name, 1, counter).sources)
            expect(resumed.checkpoint(source)).toBe(scratch.checkpoint(source));
          // Followed from the checkpoint too: a live event reaches both the same way.
          await seed(1);
          await bound(Promise.all([resumed.catchUp(), scratch.catchUp()]), 'live catchUp');
          expect(resumed.state).toEqual(scratch.state);
          await resumed.stop();
          await scratch.stop();
        });

        test('a checkpoint of another version is ignored: the view is rebuilt from the log', async () => {
          const name = uniqueId('versioned');
          await seed(2);
          const first = await LiveView.start(h.store, checkpointed(name, 1, { folds: 0 }));
          await first.stop();
          const saved = await (await h.store.viewCheckpointStore()).load(viewCheckpointKey('registry', name));
          expect(saved).toBeDefined();
          expect(decodeViewCheckpoint(2, saved!)).toEqual({ ignored: 'checkpoint version 1, view version 2' });

          const counter = { folds: 0 };
          const rebuilt = await LiveView.start(h.store, checkpointed(name, 2, counter));
          const scratch = await LiveView.start(h.store, checkpointed(uniqueId('scratch'), 2, { folds: 0 }));
          // Every event folded again, once per source (the state counts folds).
          expect(counter.folds).toBe(scratch.state.count);
          expect(rebuilt.state).toEqual(scratch.state);
          await rebuilt.stop();
          await scratch.stop();
        });

        test('a live view saves a checkpoint every `everyEvents` events, without stopping', async () => {
          const name = uniqueId('periodic');
          const definition = {
            ...checkpointed(name, 1, { folds: 0 }),
            checkpoint: { owner: 'registry' as const, version: 1, everyEvents: 2, minIntervalMs: 0 },
          };
          const view = await LiveView.start(h.store, definition);
          const sequences = await seed(2);
          await bound(view.catchUp(), 'catchUp');
          const key = viewCheckpointKey('registry', name);
          const positions = async () => {
            const data = await (await h.store.viewCheckpointStore()).load(key);
            const decoded = data && decodeViewCheckpoint<Folded>(1, data);
            return decoded && 'checkpoint' in decoded ? decoded.checkpoint.positions['registry:policy'] : undefined;
          };
          await bound(
            (async () => {
              while ((await positions()) !== sequences.at(-1)) await new Promise((r) => setTimeout(r, 20));
            })(),
            'periodic checkpoint',
          );
          await view.stop();
        });
      });

      test('a persisted feed resumes after its saved checkpoint and applies every event exactly once', async () => {
        const sequences = await seed(5);
        const applied: number[] = [];
        const saved: number[] = [];
        const options = {
          name: 'persisted',
          sources: [{ context: 'registry' as const, aggregate: 'policy' }],
          apply: (recorded: RecordedEvent) => void applied.push(recorded.sequence),
          flush: (_source: unknown, checkpoint: number) => void saved.push(checkpoint),
          rebuildBatch: 2,
        };
        const first = await LiveFeed.start(h.store, { ...options, checkpoint: () => sequences[1]! });
        expect(applied).toEqual(sequences.slice(2));
        expect(saved).toEqual([sequences[3], sequences[4]]);
        const more = await seed(1);
        await bound(first.catchUp(), 'feed catchUp');
        await first.stop();
        expect(applied).toEqual([...sequences.slice(2), ...more]);
        expect(saved.at(-1)).toBe(more[0]);

        const second = await LiveFeed.start(h.store, { ...options, checkpoint: () => saved.at(-1)! });
        await bound(second.catchUp(), 'restarted feed catchUp');
        await second.stop();
        expect(applied).toEqual([...sequences.slice(2), ...more]);
      });

      test('a live event that fails to apply is applied again until it succeeds, and the ones after it wait', async () => {
        await seed(1);
        const applied: string[] = [];
        let failures = 0;
        const feed = await LiveFeed.start(h.store, {
          name: 'flaky',
          sources: [{ context: 'registry', aggregate: 'policy' }],
          retryBackoffMs: [10],
          logger: pino({ level: 'silent' }),
          apply: (recorded) => {
            const name = (recorded.event as PolicyDefined).data.name;
            if (name === 'poison' && failures < 3) {
              failures++;
              throw new Error('read model store unavailable');
            }
            applied.push(name);
          },
        });
        for (const name of ['poison', 'after']) {
          const stream = policyStream();
          await h.store.append(stream, [policyEvent(stream, name)], {
            expectedVersion: noStream,
            messageId: uniqueId('m'),
          });
        }
        await bound(feed.catchUp(), 'catchUp through the failures');
        expect(feed.ready).toBe(true);
        await feed.stop();
        expect(applied).toEqual(['view-0', 'poison', 'after']);
        expect(failures).toBe(3);
      });

      test('a live event whose flush fails is applied and flushed again before its checkpoint moves', async () => {
        await seed(1);
        const flushed: number[] = [];
        let failures = 0;
        const feed = await LiveFeed.start(h.store, {
          name: 'flaky-flush',
          sources: [{ context: 'registry', aggregate: 'policy' }],
          retryBackoffMs: [10],
          logger: pino({ level: 'silent' }),
          apply: () => undefined,
          flush: (_source, checkpoint) => {
            if (flushed.length > 0 && failures < 2) {
              failures++;
              throw new Error('read model store unavailable');
            }
            flushed.push(checkpoint);
          },
        });
        const [live] = await seed(1);
        await bound(feed.catchUp(), 'catchUp through the failed flushes');
        expect(feed.ready).toBe(true);
        expect(feed.checkpoint({ context: 'registry', aggregate: 'policy' })).toBe(live);
        await feed.stop();
        expect(flushed.at(-1)).toBe(live);
        expect(failures).toBe(2);
      });
    });

    describe('subscriptions and projections', () => {
      /** A read model's fold, idempotent by stream sequence: what at-least-once delivery needs. */
      const foldOnce = () => {
        const fold = { applied: [] as number[], checkpoint: 0 };
        return {
          fold,
          apply: (recorded: RecordedEvent) => {
            if (recorded.sequence <= fold.checkpoint) return;
            fold.applied.push(recorded.sequence);
            fold.checkpoint = recorded.sequence;
          },
        };
      };

      async function seed(n: number): Promise<number[]> {
        const sequences: number[] = [];
        for (let i = 0; i < n; i++) {
          const stream = policyStream();
          sequences.push(
            ...(
              await h.store.append(stream, [policyEvent(stream, `seed-${i}`)], {
                expectedVersion: noStream,
                messageId: uniqueId('m'),
              })
            ).sequences,
          );
        }
        return sequences;
      }

      test('caughtUp resolves on an empty context', async () => {
        const sub = await h.store.subscribe({ durable: uniqueId('empty'), context: 'registry' }, () => undefined);
        await bound(sub.caughtUp(), 'caughtUp');
        await sub.stop();
      });

      test('a subscriber stopped mid-stream and restarted applies every event exactly once, by stream sequence', async () => {
        const sequences = await seed(10);
        const crashAt = sequences[4]!;
        const durable = uniqueId('crash');
        const projection = foldOnce();
        const firstRun: number[] = [];
        let crashed!: () => void;
        const crash = new Promise<void>((resolve) => (crashed = resolve));
        const sub1 = await h.store.subscribe({ durable, context: 'registry', aggregate: 'policy' }, (recorded) => {
          firstRun.push(recorded.sequence);
          projection.apply(recorded);
          if (recorded.sequence === crashAt) {
            crashed();
            throw new Error('process died after writing the projection, before the ack');
          }
        });
        await bound(crash, 'the crash');
        await sub1.stop();
        expect(firstRun.slice(0, 5)).toEqual(sequences.slice(0, 5));

        const secondRun: number[] = [];
        const sub2 = await h.store.subscribe({ durable, context: 'registry', aggregate: 'policy' }, (recorded) => {
          secondRun.push(recorded.sequence);
          projection.apply(recorded);
        });
        const more = await seed(3);
        await bound(sub2.caughtUp(), 'caughtUp after restart');
        await sub2.stop();
        // Resumed at the unacked event (redelivered, skipped by the checkpoint), nothing before it.
        expect(secondRun[0]).toBe(crashAt);
        expect(Math.min(...secondRun)).toBe(crashAt);
        expect(projection.fold.applied).toEqual([...sequences, ...more]);
        expect(projection.fold.checkpoint).toBe(more.at(-1));
      });

      test('a handler that fails is retried and the events after it wait', async () => {
        const sequences = await seed(3);
        const seen: number[] = [];
        let failures = 0;
        const sub = await h.store.subscribe({ durable: uniqueId('retry'), context: 'registry' }, (recorded) => {
          if (recorded.sequence === sequences[1] && failures < 2) {
            failures++;
            throw new Error('transient');
          }
          seen.push(recorded.sequence);
        });
        await bound(sub.caughtUp(), 'caughtUp');
        await sub.stop();
        expect(failures).toBe(2);
        expect(seen).toEqual(sequences);
      });

      test('replay starts from a sequence and filters by aggregate', async () => {
        const sequences = await seed(4);
        const seen: number[] = [];
        const last = await h.store.replay('registry', (r) => void seen.push(r.sequence), {
          fromSequence: sequences[2]!,
          aggregate: 'policy',
        });
        expect(seen).toEqual(sequences.slice(2));
        expect(last).toBe(sequences[3]);
        expect(await h.store.replay('registry', () => undefined, { aggregate: 'device' })).toBe(0);
      });

      test('an invalid event found on the stream is parked with one log line, and the consumer continues', async () => {
        const before = await seed(1);
        const stream = policyStream();
        const secret = 'do-not-log-this-payload';
        const bad = policyEvent(stream, secret, { certificateLifetimeDays: 0 });
        await h.writeRaw(stream, JSON.stringify(bad));
        await h.writeRaw(stream, `not json ${secret}`);
        const after = await seed(1);
        const handled: number[] = [];
        const sub = await h.store.subscribe(
          { durable: uniqueId('parking'), context: 'registry' },
          (r) => void handled.push(r.sequence),
        );
        await bound(sub.caughtUp(), 'caughtUp past the invalid events');
        await sub.stop();
        expect(handled).toEqual([...before, ...after]);

        const parked = await h.parked.list();
        expect(parked).toEqual([
          expect.objectContaining({
            subject: expect.stringMatching(new RegExp(`registry\\.policy\\.${stream.id}$`)),
            sequence: before[0]! + 1,
            type: 'ServerPolicyDefined',
            version: 1,
          }),
          expect.objectContaining({ sequence: before[0]! + 2, type: 'unknown', reason: 'payload is not JSON' }),
        ]);
        expect(parked[0]!.reason).toContain('certificateLifetimeDays');
        expect(new TextDecoder().decode(parked[0]!.payload)).toBe(JSON.stringify(bad));

        // A replay skips them too, without parking or logging them again.
        const replayed: number[] = [];
        await h.store.replay('registry', (r) => void replayed.push(r.sequence));
        expect(replayed).toEqual([...before, ...after]);

        const lines = h.logs.filter((l) => l['event'] === 'eventstore.event_parked');
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatchObject({
          level: 40,
          type: 'ServerPolicyDefined',
          subject: parked[0]!.subject,
          sequence: parked[0]!.sequence,
          reason: parked[0]!.reason,
        });
        expect(JSON.stringify(h.logs)).not.toContain(secret);
      });

      test('a follower picks up from a sequence, sees new events live and in order, and reports caughtUp (whole context and one aggregate)', async () => {
        const before = await seed(3);
        const seen: number[] = [];
        const follower = await h.store.follow('registry', (r) => void seen.push(r.sequence), {
          fromSequence: before[1]!,
        });
        await bound(follower.caughtUp(), 'follower caughtUp');
        expect(seen).toEqual(before.slice(1));
        const after = await seed(2);
        await bound(follower.caughtUp(), 'follower caughtUp again');
        expect(seen).toEqual([...before.slice(1), ...after]);
        await follower.stop();

        const deviceEvents: number[] = [];
        const byAggregate = await h.store.follow('registry', (r) => void deviceEvents.push(r.sequence), {
          aggregate: 'device',
        });
        await bound(byAggregate.caughtUp(), 'aggregate follower caughtUp with nothing to deliver');
        await byAggregate.stop();
        expect(deviceEvents).toEqual([]);
      });

      test('an event whose handler keeps failing is parked after the configured attempts (3 here), and the ones after it are handled', async () => {
        const sequences = await seed(3);
        const poison = sequences[1]!;
        const attempts = new Map<number, number>();
        const handled: number[] = [];
        const sub = await h.store.subscribe({ durable: uniqueId('poison'), context: 'registry' }, (r) => {
          attempts.set(r.sequence, (attempts.get(r.sequence) ?? 0) + 1);
          if (r.sequence === poison) throw new Error('projection bug: cannot apply');
          handled.push(r.sequence);
        });
        await bound(sub.caughtUp(), 'caughtUp past the poison event');
        await sub.stop();
        expect(handled).toEqual([sequences[0], sequences[2]]);
        expect(attempts.get(poison)).toBe(3);
        const parked = (await h.parked.list()).filter((p) => p.sequence === poison);
        expect(parked).toEqual([
          expect.objectContaining({ type: 'ServerPolicyDefined', reason: 'handler failed 3 times (Error)' }),
        ]);
        expect(h.logs.filter((l) => l['event'] === 'eventstore.event_parked' && l['sequence'] === poison)).toHaveLength(
          1,
        );
      });

      test('retry-forever: an event whose handler fails three times the park limit is never parked; once the fault clears it is handled, and the ones after it waited', async () => {
        const sequences = await seed(3);
        const stuck = sequences[1]!;
        const failuresBeforeFix = 9; // the park limit is 3 here
        let failures = 0;
        const handled: number[] = [];
        const sub = await h.store.subscribe(
          { durable: uniqueId('never-park'), context: 'registry', delivery: 'retry-forever' },
          (r) => {
            if (r.sequence === stuck && failures < failuresBeforeFix) {
              failures++;
              throw new Error('target offline');
            }
            handled.push(r.sequence);
          },
        );
        await bound(sub.caughtUp(), 'caughtUp once the fault cleared');
        await sub.stop();
        expect(failures).toBe(failuresBeforeFix);
        expect(handled).toEqual(sequences);
        expect((await h.parked.list()).filter((p) => p.sequence === stuck)).toEqual([]);
        expect(h.logs.filter((l) => l['event'] === 'eventstore.event_parked' && l['sequence'] === stuck)).toEqual([]);
      });

      test('an unknown delivery policy is refused before anything is subscribed', async () => {
        await expect(
          h.store.subscribe(
            { durable: uniqueId('bad-policy'), context: 'registry', delivery: 'skip' as never },
            () => undefined,
          ),
        ).rejects.toThrow(/delivery is one of park-after-attempts, retry-forever/);
      });
    });
  });
}
