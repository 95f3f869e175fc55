import { Inject, Injectable } from '@nestjs/common';
import { mapBounded } from '@tunnelkey/concurrency';
import { IdentityChallengeMessage, VerifyIdentity, type ResultOf } from '@tunnelkey/contracts';
import {
  derivedMetadata,
  handleCommand,
  isCommandRejected,
  load,
  metadataOf,
  type EventStore,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config.js';
import { batchDecider } from '../deciders/batch.decider.js';
import { deviceDecider } from '../deciders/device.decider.js';
import type { Downlinks } from '../downlink-port/downlinks.js';
import { addSeconds, type Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { notFound } from '../shared/registry-errors.js';
import { RegistryMetrics } from '../shared/registry-metrics.js';
import { batchStream, deviceStream } from '../shared/registry-streams.js';
import { DOWNLINKS, REGISTRY_CLOCK, REGISTRY_CONFIG, REGISTRY_LOGGER } from '../tokens.js';
import { BatchSummaryView } from '../views/batch-summary.view.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';
import { ChallengeNonces } from './challenge-nonces.js';

type Scope = ReturnType<typeof VerifyIdentity.parse>['scope'];

/**
 * VerifyIdentity: records a challenge (nonce digest only) per device and sends the nonce to the
 * device's inbox. The answers arrive as identity-response messages (see identity-response.handler).
 */
@Injectable()
export class VerifyIdentityHandler {
  readonly #nonces = new ChallengeNonces();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly deviceStates: DeviceStateCache,
    private readonly devices: DeviceByIdView,
    private readonly batches: BatchSummaryView,
    @Inject(DOWNLINKS) private readonly downlinks: Downlinks,
    private readonly metrics: RegistryMetrics,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof VerifyIdentity>> {
    const { commandId, correlationId, actor, scope } = VerifyIdentity.parse(payload);
    const now = this.clock();
    const metadata = metadataOf({ commandId, correlationId, actor }, now);
    const expiresAt = addSeconds(now, this.config.challengeTtlSeconds).toISOString();
    const deviceIds = await this.#devicesIn(scope);
    let challenged = 0;
    await mapBounded(deviceIds, this.config.bulkConcurrency, async (deviceId) => {
      const { challengeId, nonce, nonceDigest } = this.#nonces.challengeFor(commandId, deviceId);
      let issued;
      try {
        const result = await handleCommand({
          store: this.store,
          decider: deviceDecider,
          stream: deviceStream(deviceId),
          cache: this.deviceStates.for(deviceId),
          command: commandOf(
            'IssueIdentityChallenge',
            { deviceId, challengeId, nonceDigest, expiresAt },
            derivedMetadata(metadata, deviceId),
          ),
          logger: this.logger,
        });
        issued = result.events.find((event) => event.type === 'IdentityChallengeIssued');
      } catch (error) {
        // One device asked for by id must say why; in a list or a batch, devices that cannot be challenged are skipped.
        if (isCommandRejected(error) && scope.kind !== 'device') return;
        throw error;
      }
      // A retry served from the log after a restart holds another process's nonce digest: nothing to re-send.
      if (!issued || issued.data.nonceDigest !== nonceDigest || Date.parse(issued.data.expiresAt) <= now.getTime())
        return;
      await this.downlinks.send(IdentityChallengeMessage, deviceId, {
        challengeId,
        nonce,
        expiresAt: issued.data.expiresAt,
      });
      challenged++;
    });
    this.metrics.challengesIssued.inc(challenged);
    this.logger.info(
      {
        event: 'registry.identity_challenges_sent',
        scope: scope.kind,
        devices: challenged,
        inScope: deviceIds.length,
        commandId,
      },
      'identity challenges sent',
    );
    return { devices: challenged };
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
