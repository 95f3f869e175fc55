import type { BoundedContext, EventEnvelope } from '@tunnelkey/contracts';
import type { RecordedEvent } from '@tunnelkey/eventstore';
import type { JsonValue, StoredProjection, Write } from '@tunnelkey/projection-store';
import { json } from './fleet.view.js';

export const deviceHistoryProjectionName = 'device-history';
export const historyEntriesCollection = 'entries';

/**
 * Contexts whose per-device aggregate (`<context>.device.<id>`) makes a device's history. Not OTA
 * yet: the gateway's bus user may not read the OTA stream (deploy/nats/nats.conf), and a view
 * that cannot start keeps the gateway from being ready; a rollout's devices are in its progress.
 */
export const deviceHistoryContexts: readonly BoundedContext[] = ['registry', 'ca', 'onboarding'];

/** One event of a device as the history shows it (the envelope without its aggregate id). */
export interface HistoryEntry {
  context: BoundedContext;
  sequence: number;
  type: string;
  version: number;
  id: string;
  occurredAt: string;
  correlationId: string;
  causationId: string;
  actor?: EventEnvelope['actor'];
  data: unknown;
  /** Telemetry only: how many reports of this target the entry stands for (it shows the latest). */
  reports?: number;
}

/** A stored entry: what the query filters and sorts on, and the entry itself. */
export interface HistoryEntryDocument {
  deviceId: string;
  /** occurredAt, then the context and zero-padded sequence: one order across contexts. */
  at: string;
  entry: HistoryEntry;
  reports?: number;
}

function contextOf(subject: string): BoundedContext {
  return deviceHistoryContexts.find((context) => subject.split('.').includes(context)) ?? 'registry';
}

/**
 * Each device's events, one document per event, so a page of a device's history is one indexed
 * find. Telemetry is the exception: a device reports every few seconds for as long as it lives, and
 * each TelemetryReceived carries totals since it was onboarded, so the newest report of a target
 * says what all the earlier ones said. They are folded into ONE entry per device and target (the
 * newest report, placed at its time, with the count of reports): a device's history stays bounded
 * by its lifecycle (imports, certificates, connections, revocations), not by its uptime. The raw
 * reports stay in the log (`onboarding.device.<id>`).
 */
export const deviceHistoryProjection: StoredProjection = {
  name: deviceHistoryProjectionName,
  collections: { entries: { indexes: [['deviceId', 'at']] } },
  sources: deviceHistoryContexts.map((context) => ({ context, aggregate: 'device' })),
  evolve({ event, sequence, subject }: RecordedEvent): Write[] {
    const context = contextOf(subject);
    const entry = json({
      context,
      sequence,
      type: event.type,
      version: event.version,
      id: event.id,
      occurredAt: event.occurredAt,
      correlationId: event.correlationId,
      causationId: event.causationId,
      actor: event.actor,
      data: event.data,
    });
    const deviceId = event.aggregateId;
    const at = `${event.occurredAt}|${context}|${String(sequence).padStart(15, '0')}`;
    if (event.type === 'TelemetryReceived') {
      const targetId = (event.data as { targetId: string }).targetId;
      return [
        {
          type: 'upsert',
          collection: historyEntriesCollection,
          id: `${deviceId}/telemetry/${targetId}`,
          set: { deviceId, at, entry },
          inc: { reports: 1 },
        },
      ];
    }
    return [
      {
        type: 'upsert',
        collection: historyEntriesCollection,
        id: `${context}/${sequence}`,
        set: { deviceId, at, entry } satisfies Record<string, JsonValue>,
      },
    ];
  },
};
