import { createHash } from 'node:crypto';
import type { EventEnvelope } from '@tunnelkey/contracts';
import { pino, type Logger } from 'pino';
import type { Command, Decider, NewEvent } from './decider.js';
import { ConcurrencyError, describeError } from './errors.js';
import type { EventStore, RecordedEvent, StreamRef } from './event-store.js';
import type { SnapshotPolicy } from './snapshots.js';
import type { AggregateStateCache, CachedState } from './state-cache.js';

export interface HandleCommandInput<C extends Command, E extends EventEnvelope, S> {
  store: EventStore;
  decider: Decider<C, E, S>;
  stream: StreamRef;
  command: C;
  snapshots?: SnapshotPolicy;
  /** Decide on the cached state instead of reading the stream (see AggregateStateCache). */
  cache?: AggregateStateCache<S>;
  /** Reloads and decisions after a ConcurrencyError before giving up. Default 3. */
  maxRetries?: number;
  logger?: Logger;
}

export interface HandleCommandResult<E extends EventEnvelope, S> {
  /** The events this command caused (already stored ones when it had been handled before). */
  events: E[];
  /** The stream's version after the command. */
  version: number;
  /** The state after the command's events. */
  state: S;
  /** True when the command had already been handled and nothing was written now. */
  alreadyHandled: boolean;
}

const defaultLogger = pino({ name: 'eventstore' });

/**
 * Load (from the cache, or a snapshot if any plus the events after it) -> decide -> append with the
 * loaded version and the command id as message id -> on ConcurrencyError reload and decide again,
 * at most `maxRetries` times.
 *
 * Idempotent: event ids derive from the command id, so a retried command produces identical
 * events; JetStream's dedup window absorbs retries within it, and beyond it a stream that already
 * holds events caused by this command returns them without deciding again. (With snapshots, only
 * events after the snapshot are checked beyond the dedup window; with a cache, the entry's recent
 * command ids send a retry to the log.)
 */
export async function handleCommand<C extends Command, E extends EventEnvelope, S>(
  input: HandleCommandInput<C, E, S>,
): Promise<HandleCommandResult<E, S>> {
  const { store, decider, stream, command, snapshots, cache } = input;
  const maxRetries = input.maxRetries ?? 3;
  const { commandId } = command.metadata;
  let conflicts = 0;
  let tryCache = cache !== undefined;
  for (;;) {
    const cached = tryCache ? cache?.get(stream) : undefined;
    tryCache = false;
    // A retry of a recent command: its events are in the log, the cache has only its id.
    if (cached?.recentCommandIds.includes(commandId)) continue;
    const loaded: Loaded<S> = cached
      ? { ...cached, events: [] }
      : await loadForCommand(store, decider, stream, snapshots);
    const earlier = loaded.events.filter((event) => event.causationId === commandId);
    if (earlier.length > 0) {
      cache?.set(stream, entryOf(loaded));
      return { events: earlier as E[], version: loaded.version, state: loaded.state, alreadyHandled: true };
    }
    let decided: NewEvent<E>[];
    try {
      decided = decider.decide(command, loaded.state);
    } catch (error) {
      // A refusal may come from a stale cached state: only a fresh load may refuse.
      if (cached) continue;
      throw error;
    }
    if (decided.length === 0) {
      if (cached) continue; // nothing to do, says the cache: ask the log
      cache?.set(stream, entryOf(loaded));
      return { events: [], version: loaded.version, state: loaded.state, alreadyHandled: false };
    }
    const events = decided.map((event, index) => toEnvelope(event, stream, command, index)) as E[];
    try {
      const result = await store.append(stream, events, { expectedVersion: loaded.version, messageId: commandId });
      const state = events.reduce(decider.evolve, loaded.state);
      let foldedSinceSnapshot = loaded.foldedSinceSnapshot + events.length;
      if (
        snapshots &&
        (await maybeSnapshot(snapshots, stream, state, result.version, foldedSinceSnapshot, input.logger))
      )
        foldedSinceSnapshot = 0;
      // A duplicate means these events were written before this load saw them: let the next command read.
      if (result.duplicate) cache?.delete(stream);
      else
        cache?.set(stream, {
          state,
          version: result.version,
          recentCommandIds: [...loaded.recentCommandIds, commandId],
          foldedSinceSnapshot,
        });
      return { events, version: result.version, state, alreadyHandled: result.duplicate };
    } catch (error) {
      cache?.delete(stream);
      if (!(error instanceof ConcurrencyError) || conflicts++ >= maxRetries) throw error;
    }
  }
}

/** A load as handleCommand uses it: a cache entry, plus the events read (none from the cache) for the retried-command check. */
type Loaded<S> = CachedState<S> & { events: EventEnvelope[] };

const entryOf = <S>({ events: _events, ...entry }: Loaded<S>): CachedState<S> => entry;

/** The aggregate's state and version: the snapshot (if any, and of the right revision) plus the events after it. */
export async function load<C extends Command, E extends EventEnvelope, S>(
  store: EventStore,
  decider: Decider<C, E, S>,
  stream: StreamRef,
  snapshots?: SnapshotPolicy,
): Promise<{ state: S; version: number; events: RecordedEvent[]; foldedSinceSnapshot: number }> {
  const snapshot = snapshots ? await snapshots.store.load<S>(stream) : undefined;
  const usable = snapshot && (snapshot.revision ?? 1) === (snapshots?.revision ?? 1) ? snapshot : undefined;
  const { events, version } = await store.read(stream, usable ? { after: usable.version } : {});
  let state = usable ? usable.state : decider.initialState();
  for (const recorded of events) state = decider.evolve(state, recorded.event as E);
  return { state, version, events, foldedSinceSnapshot: events.length };
}

async function loadForCommand<C extends Command, E extends EventEnvelope, S>(
  store: EventStore,
  decider: Decider<C, E, S>,
  stream: StreamRef,
  snapshots?: SnapshotPolicy,
): Promise<Loaded<S>> {
  const { state, version, events, foldedSinceSnapshot } = await load(store, decider, stream, snapshots);
  const folded = events.map((r) => r.event);
  return {
    state,
    version,
    events: folded,
    recentCommandIds: folded.map((event) => event.causationId),
    foldedSinceSnapshot,
  };
}

/** Takes a snapshot once `every` events were folded past the last one; true when it did. */
async function maybeSnapshot<S>(
  policy: SnapshotPolicy,
  stream: StreamRef,
  state: S,
  version: number,
  folded: number,
  logger?: Logger,
): Promise<boolean> {
  if (folded < (policy.every ?? 50)) return false;
  try {
    await policy.store.save(stream, { state, version, revision: policy.revision ?? 1 });
    return true;
  } catch (error) {
    // A missing snapshot only costs a longer read next time: never fail the command for it.
    (logger ?? defaultLogger).warn(
      { event: 'eventstore.snapshot_failed', ...stream, error: describeError(error) },
      'snapshot not saved',
    );
    return false;
  }
}

/** Wraps a decided event in its envelope: everything comes from the command, so a retry produces the same bytes. */
export function toEnvelope<E extends EventEnvelope>(
  event: NewEvent<E>,
  stream: StreamRef,
  command: Command,
  index: number,
): E {
  const { commandId, correlationId, now, actor } = command.metadata;
  const envelope: EventEnvelope = {
    type: event.type,
    version: event.version,
    id: deterministicEventId(commandId, stream, index),
    aggregateId: stream.id,
    occurredAt: now,
    causationId: commandId,
    correlationId: correlationId ?? commandId,
    data: event.data,
  };
  if (actor) envelope.actor = actor;
  return envelope as E;
}

/**
 * A UUID-shaped id (RFC 9562 version 8) from SHA-256 of the command id, the stream and the
 * event's index: the same command on the same aggregate always yields the same event ids.
 */
export function deterministicEventId(commandId: string, stream: StreamRef, index: number): string {
  const hash = createHash('sha256')
    .update(`${commandId}\u0000${stream.context}.${stream.aggregate}.${stream.id}\u0000${index}`)
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x80;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
