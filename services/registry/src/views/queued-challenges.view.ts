/**
 * Query: which devices has a VerifyIdentity queued for a challenge (IdentityChallengesQueued,
 * recorded before the command was answered)? Per command: its metadata and devices. Whether a
 * queued device is still owed its challenge is the device's own state (device-by-id): a challenge
 * pending, or answered or given up since the command, settles it (identity-challenges.job).
 */
import { Inject, Injectable } from '@nestjs/common';
import type { Actor, DataOf, IdentityChallengesQueued } from '@tunnelkey/contracts';
import type { EventStore, LiveViewDefinition } from '@tunnelkey/eventstore';
import { EVENT_STORE, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { RegistryView } from './registry-view.js';

export interface QueuedVerification {
  commandId: string;
  correlationId: string;
  actor?: Actor;
  /** When the command was accepted. */
  queuedAt: string;
  deviceIds: Set<string>;
}

/** By commandId, in log order. */
export type QueuedChallenges = Map<string, QueuedVerification>;

export const queuedChallengesDefinition: LiveViewDefinition<QueuedChallenges> = {
  name: 'registry-queued-challenges',
  sources: [{ context: 'registry', aggregate: 'verification' }],
  // Checkpointed: bump the version when the state or evolve changes.
  checkpoint: { owner: 'registry', version: 1 },
  initialState: () => new Map(),
  evolve(view, { event }) {
    if (event.type !== 'IdentityChallengesQueued') return view;
    const { commandId, deviceIds } = event.data as DataOf<typeof IdentityChallengesQueued>;
    const known = view.get(commandId);
    if (known) {
      for (const deviceId of deviceIds) known.deviceIds.add(deviceId);
      return view;
    }
    view.set(commandId, {
      commandId,
      correlationId: event.correlationId,
      ...(event.actor ? { actor: event.actor } : {}),
      queuedAt: event.occurredAt,
      deviceIds: new Set(deviceIds),
    });
    return view;
  },
};

@Injectable()
export class QueuedChallengesView extends RegistryView<QueuedChallenges> {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    streams: RegistryStreams,
    @Inject(READINESS_CHECKS) readiness: ReadinessRegistry,
    @Inject(REGISTRY_LOGGER) logger: Logger,
  ) {
    super(queuedChallengesDefinition, store, streams, readiness, logger);
  }

  /** Every command with queued devices, oldest first. */
  commands(): QueuedVerification[] {
    return [...this.state.values()];
  }
}
