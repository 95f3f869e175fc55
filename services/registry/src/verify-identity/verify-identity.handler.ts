import { Inject, Injectable } from '@nestjs/common';
import { VerifyIdentity, type CommandMetadata, type ResultOf } from '@tunnelkey/contracts';
import {
  AggregateStateCache,
  derivedMetadata,
  handleCommand,
  isCommandRejected,
  load,
  metadataOf,
  type EventStore,
  type QueuedDevicesState,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { batchDecider } from '../deciders/batch.decider.js';
import { isEnrolled, type DeviceState } from '../deciders/device-state.js';
import { deviceDecider } from '../deciders/device.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { notFound } from '../shared/registry-errors.js';
import { batchStream, deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { BatchSummaryView } from '../views/batch-summary.view.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';
import { IdentityChallengesJob, type ChallengeAsk } from './identity-challenges.job.js';
import { devicesPerQueuedEvent, verificationDecider, verificationStream } from './verification.decider.js';

type Scope = ReturnType<typeof VerifyIdentity.parse>['scope'];

/**
 * VerifyIdentity: picks the devices that can be challenged (enrolled, not revoked) and hands them
 * to the identity-challenges window, which records a challenge per device (nonce digest only) and
 * sends the nonce as it has room, sending it again until answered or expired. Replies once under
 * way with the number of devices to challenge, once they are recorded as queued
 * (IdentityChallengesQueued: a crash from then on leaves them owed a challenge, not forgotten). The
 * answers arrive as identity-response messages (see identity-response.handler).
 */
@Injectable()
export class VerifyIdentityHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly devices: DeviceByIdView,
    private readonly batches: BatchSummaryView,
    private readonly challenges: IdentityChallengesJob,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof VerifyIdentity>> {
    const { commandId, correlationId, actor, scope } = VerifyIdentity.parse(payload);
    const metadata = metadataOf({ commandId, correlationId, actor }, this.clock());
    const deviceIds = await this.#devicesIn(scope);
    const asks: ChallengeAsk[] = [];
    for (const deviceId of deviceIds) {
      const ask = { deviceId, metadata: derivedMetadata(metadata, deviceId) };
      try {
        // The decider's own checks (the window records the challenge and checks again then).
        this.#challengeable(ask, await this.#stateOf(deviceId));
        asks.push(ask);
      } catch (error) {
        // One device asked for by id must say why; in a list or a batch, devices that cannot be challenged are skipped.
        if (isCommandRejected(error) && scope.kind !== 'device') continue;
        throw error;
      }
    }
    await this.#queue(
      commandId,
      metadata,
      asks.map((ask) => ask.deviceId),
    );
    this.challenges.challenge(asks);
    this.logger.info(
      {
        event: 'registry.identity_challenges_queued',
        scope: scope.kind,
        devices: asks.length,
        inScope: deviceIds.length,
        commandId,
      },
      'identity challenges under way',
    );
    return { devices: asks.length };
  }

  /** Records IdentityChallengesQueued, 1,000 devices per event (a retried command records only what is missing). */
  async #queue(commandId: string, metadata: CommandMetadata, deviceIds: readonly string[]): Promise<void> {
    const stream = verificationStream(commandId);
    // The stream read once, then each part decided on the state the one before left: a part read
    // the whole stream again, every part (quadratic: minutes at 100,000 devices).
    const cache = new AggregateStateCache<QueuedDevicesState>({ maxStreams: 1 });
    for (let part = 0; part * devicesPerQueuedEvent < deviceIds.length; part++) {
      await handleCommand({
        store: this.store,
        decider: verificationDecider,
        stream,
        cache,
        command: {
          type: 'QueueIdentityChallenges',
          data: {
            commandId,
            deviceIds: deviceIds.slice(part * devicesPerQueuedEvent, (part + 1) * devicesPerQueuedEvent),
          },
          metadata: derivedMetadata(metadata, 'queued', String(part)),
        },
        logger: this.logger,
      });
    }
  }

  /** Throws the refusal the decider gives a challenge of this device (unknown, not in a batch, revoked). */
  #challengeable({ deviceId, metadata }: ChallengeAsk, state: DeviceState): void {
    deviceDecider.decide(
      commandOf(
        'IssueIdentityChallenge',
        { deviceId, challengeId: metadata.commandId, nonceDigest: '', expiresAt: metadata.now },
        metadata,
      ),
      state,
    );
  }

  /** The view's state; the log's when the view does not hold the device enrolled (it may lag) nor revoked (final). */
  async #stateOf(deviceId: string): Promise<DeviceState> {
    const known = this.devices.deviceState(deviceId);
    if (known && (isEnrolled(known) || known.status === 'Revoked')) return known;
    return (await load(this.store, deviceDecider, deviceStream(deviceId))).state;
  }

  async #devicesIn(scope: Scope): Promise<string[]> {
    switch (scope.kind) {
      case 'device': {
        const { deviceId } = scope;
        const known =
          this.devices.deviceState(deviceId) ?? (await load(this.store, deviceDecider, deviceStream(deviceId))).state;
        if (known.status === 'Unknown') throw notFound(`device ${deviceId}`, { deviceId });
        return [deviceId];
      }
      case 'devices':
        return [...new Set(scope.deviceIds)];
      case 'batch': {
        const { batchId } = scope;
        if (
          !this.batches.batchSummary(batchId) &&
          (await load(this.store, batchDecider, batchStream(batchId))).state.status !== 'Created'
        ) {
          throw notFound(`batch ${batchId}`, { batchId });
        }
        return [...this.devices.batchMembers(batchId)];
      }
      default: {
        const unknown: never = scope;
        throw new TypeError(`unknown scope ${String((unknown as { kind?: unknown }).kind)}`);
      }
    }
  }
}
