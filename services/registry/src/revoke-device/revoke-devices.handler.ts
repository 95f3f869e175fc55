import { Inject, Injectable } from '@nestjs/common';
import { mapBounded } from '@tunnelkey/concurrency';
import { RevocationRequested, type EventOf, type RevocationStepCompleted } from '@tunnelkey/contracts';
import {
  derivedCommandId,
  describeError,
  handleCommand,
  isCommandRejected,
  type EventStore,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_CONFIG, REGISTRY_LOGGER } from '../tokens.js';
import { revokeDeviceDecider } from './revoke-device.decider.js';

/**
 * Once the revocation saga reports every target cut off (`targets-deprovisioned` for the whole
 * revocation), each device becomes Revoked, so it can never be imported, verified, certified or
 * onboarded again. Command ids derive from the revocation and the device: a redelivery writes nothing twice.
 */
@Injectable()
export class RevokeDevicesHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(step: EventOf<typeof RevocationStepCompleted>): Promise<void> {
    if (step.data.step !== 'targets-deprovisioned' || step.data.targetId !== undefined) return;
    const { revocationId } = step.data;
    const { events } = await this.store.read({ context: 'revocation', aggregate: 'revocation', id: revocationId });
    const request = events.map((r) => r.event).find((e) => RevocationRequested.is(e));
    if (!request || !RevocationRequested.is(request)) {
      this.logger.warn(
        { event: 'registry.revocation_without_request', revocationId },
        'revocation step without its request; ignored',
      );
      return;
    }
    const { deviceIds, reason } = request.data;
    const now = this.clock().toISOString();
    await mapBounded(deviceIds, this.config.bulkConcurrency, async (deviceId) => {
      const commandId = derivedCommandId(`revocation-${revocationId}`, deviceId);
      const metadata = {
        commandId,
        correlationId: request.correlationId,
        now,
        actor: { kind: 'service' as const, id: 'revocation' },
      };
      try {
        await handleCommand({
          store: this.store,
          decider: revokeDeviceDecider,
          stream: deviceStream(deviceId),
          command: commandOf(
            'RevokeDevice',
            { deviceId, revocationId, reason, revokedAt: request.occurredAt },
            metadata,
          ),
          logger: this.logger,
          maxRetries: 10,
        });
      } catch (error) {
        // A refusal is final (the device is unknown here): retrying would block every later revocation.
        if (!isCommandRejected(error)) throw error;
        this.logger.warn(
          {
            event: 'registry.device_not_revoked',
            deviceId,
            revocationId,
            reason: error.reason,
            error: describeError(error),
          },
          'device not revoked',
        );
      }
    });
    this.logger.info(
      {
        event: 'registry.devices_revoked',
        revocationId,
        devices: deviceIds.length,
        correlationId: request.correlationId,
      },
      'devices revoked',
    );
  }
}
