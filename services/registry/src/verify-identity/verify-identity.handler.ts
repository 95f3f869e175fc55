import { Inject, Injectable } from '@nestjs/common';
import { IdentityChallengeMessage, VerifyIdentity, type ResultOf } from '@tunnelkey/contracts';
import { isCommandRejected } from '@tunnelkey/eventstore';
import { RegistryReadModel } from '../read-model/registry-read-model.js';
import { addSeconds } from '../shared/clock.js';
import { commandOf, derivedCommandId, metadataOf } from '../shared/command-metadata.js';
import { mapBounded } from '../shared/concurrency.js';
import { DownlinkSender } from '../shared/downlink-sender.js';
import { RegistryAggregates } from '../shared/registry-aggregates.js';
import { notFound } from '../shared/registry-errors.js';
import { RegistryMetrics } from '../shared/registry-metrics.js';
import { REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';
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
    private readonly aggregates: RegistryAggregates,
    private readonly readModel: RegistryReadModel,
    private readonly downlinks: DownlinkSender,
    private readonly metrics: RegistryMetrics,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof VerifyIdentity>> {
    const { commandId, correlationId, actor, scope } = VerifyIdentity.parse(payload);
    const now = this.runtime.clock();
    const metadata = metadataOf({ commandId, correlationId, actor }, now);
    const expiresAt = addSeconds(now, this.runtime.challengeTtlSeconds).toISOString();
    const deviceIds = await this.#devicesIn(scope);
    let challenged = 0;
    await mapBounded(deviceIds, this.runtime.bulkConcurrency, async (deviceId) => {
      const { challengeId, nonce, nonceDigest } = this.#nonces.challengeFor(commandId, deviceId);
      let issued;
      try {
        const result = await this.aggregates.deviceFromKnownState(
          this.readModel.knownDevice(deviceId),
          commandOf('IssueIdentityChallenge', { deviceId, challengeId, nonceDigest, expiresAt }, { ...metadata, commandId: derivedCommandId(commandId, deviceId) }),
        );
        issued = result.events.find((event) => event.type === 'IdentityChallengeIssued');
      } catch (error) {
        // One device asked for by id must say why; in a list or a batch, devices that cannot be challenged are skipped.
        if (isCommandRejected(error) && scope.kind !== 'device') return;
        throw error;
      }
      // A retry served from the log after a restart holds another process's nonce digest: nothing to re-send.
      if (!issued || issued.data.nonceDigest !== nonceDigest || Date.parse(issued.data.expiresAt) <= now.getTime()) return;
      await this.downlinks.send(IdentityChallengeMessage, deviceId, { challengeId, nonce, expiresAt: issued.data.expiresAt });
      challenged++;
    });
    this.metrics.challengesIssued.inc(challenged);
    this.runtime.logger.info({ event: 'registry.identity_challenges_sent', scope: scope.kind, devices: challenged, inScope: deviceIds.length, commandId }, 'identity challenges sent');
    return { devices: challenged };
  }

  async #devicesIn(scope: Scope): Promise<string[]> {
    switch (scope.kind) {
      case 'device': {
        const known = this.readModel.deviceState(scope.deviceId) ?? (await this.aggregates.deviceState(scope.deviceId));
        if (known.status === 'Unknown') throw notFound(`device ${scope.deviceId}`, { deviceId: scope.deviceId });
        return [scope.deviceId];
      }
      case 'devices':
        return [...new Set(scope.deviceIds)];
      case 'batch': {
        if (!this.readModel.batchSummary(scope.batchId) && (await this.aggregates.batchState(scope.batchId)).status !== 'Created') {
          throw notFound(`batch ${scope.batchId}`, { batchId: scope.batchId });
        }
        return this.readModel.batchMembers(scope.batchId);
      }
      default: {
        const unknown: never = scope;
        throw new TypeError(`unknown scope ${String((unknown as { kind?: unknown }).kind)}`);
      }
    }
  }
}
