import { createHash } from 'node:crypto';
import type { EventEnvelope } from '@tunnelkey/contracts';
import { pino, type Logger } from 'pino';
import type { Command, Decider, NewEvent } from './decider.js';
import { ConcurrencyError, describeError } from './errors.js';
import type { EventStore, RecordedEvent, StreamRef } from './event-store.js';
import type { SnapshotPolicy } from './snapshots.js';

export interface HandleCommandInput<C extends Command, E extends EventEnvelope, S> {
  store: EventStore;
  decider: Decider<C, E, S>;
  stream: StreamRef;
  command: C;
  snapshots?: SnapshotPolicy;
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
 * Load (from a snapshot if any) -> decide -> append with the loaded version and the command id
 * as message id -> on ConcurrencyError reload and decide again, at most `maxRetries` times.
 *
 * Idempotent: event ids derive from the command id, so a retried command produces identical
 * events; JetStream's dedup window absorbs retries within it, and beyond it a stream that already
 * holds events caused by this command returns them without deciding again. (With snapshots, only
 * events after the snapshot are checked beyond the dedup window.)
 */
export async function handleCommand<C extends Command, E extends EventEnvelope, S>(
  input: HandleCommandInput<C, E, S>,
): Promise<HandleCommandResult<E, S>> {
  const { store, decider, stream, command, snapshots } = input;
  const maxRetries = input.maxRetries ?? 3;
  const { commandId } = command.metadata;
  for (let attempt = 0; ; attempt++) {
    const loaded = await load(store, decider, stream, snapshots);
    const earlier = loaded.events.filter((r) => r.event.causationId === commandId);
    if (earlier.length > 0) {
      return { events: earlier.map((r) => r.event as E), version: loaded.version, state: loaded.state, alreadyHandled: true };
    }
    const decided = decider.decide(command, loaded.state);
    if (decided.length === 0) return { events: [], version: loaded.version, state: loaded.state, alreadyHandled: false };
    const events = decided.map((event, index) => toEnvelope(event, stream, command, index)) as E[];
    try {
      const result = await store.append(stream, events, { expectedVersion: loaded.version, messageId: commandId });
      const state = events.reduce(decider.evolve, loaded.state);
      if (snapshots) await maybeSnapshot(snapshots, stream, state, result.version, loaded.foldedSinceSnapshot + events.length, input.logger);
      return { events, version: result.version, state, alreadyHandled: result.duplicate };
    } catch (error) {
      if (!(error instanceof ConcurrencyError) || attempt >= maxRetries) throw error;
    }
  }
}

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

async function maybeSnapshot<S>(policy: SnapshotPolicy, stream: StreamRef, state: S, version: number, folded: number, logger?: Logger) {
  if (folded < (policy.every ?? 50)) return;
  try {
    await policy.store.save(stream, { state, version, revision: policy.revision ?? 1 });
  } catch (error) {
    // A missing snapshot only costs a longer read next time: never fail the command for it.
    (logger ?? defaultLogger).warn({ event: 'eventstore.snapshot_failed', ...stream, error: describeError(error) }, 'snapshot not saved');
  }
}

/** Wraps a decided event in its envelope: everything comes from the command, so a retry produces the same bytes. */
export function toEnvelope<E extends EventEnvelope>(event: NewEvent<E>, stream: StreamRef, command: Command, index: number): E {
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
  const hash = createHash('sha256').update(`${commandId}\u0000${stream.context}.${stream.aggregate}.${stream.id}\u0000${index}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x80;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
