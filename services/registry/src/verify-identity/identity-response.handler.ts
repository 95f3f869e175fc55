import { Inject, Injectable } from '@nestjs/common';
import {
  isAggregateId,
  type DeviceBodyOf,
  type DeviceEnvelope,
  type IdentityResponseMessage,
} from '@tunnelkey/contracts';
import { derivedCommandId, handleCommand, isCommandRejected, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { VerificationFailureReason } from '../deciders/device-state.js';
import { deviceDecider, type DeviceCommand } from '../deciders/device.decider.js';
import { acceptedUplink, refusedUplink, type UplinkOutcome } from '../device-uplinks/uplink-outcome.js';
import type { Clock } from '../shared/clock.js';
import { commandOf, uplinkMetadata } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { nonceDigestOf } from './challenge-nonces.js';

export type IdentityResponse = DeviceEnvelope<'identity-response', DeviceBodyOf<typeof IdentityResponseMessage>>;

/** An identity-response that verified: IdentityVerified, or IdentityVerificationFailed with the reason. */
@Injectable()
export class IdentityResponseHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly deviceStates: DeviceStateCache,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  /** `enrolmentKeyDigest`: the key the envelope's signature was verified with (undefined when none was). */
  async handle(envelope: IdentityResponse, enrolmentKeyDigest: string | undefined): Promise<UplinkOutcome> {
    const { deviceId } = envelope;
    const { challengeId, nonce, firmwareMeasurement } = envelope.body;
    if (!enrolmentKeyDigest) return refusedUplink('wrong-key');
    try {
      const result = await this.#device(
        commandOf(
          'CheckIdentityResponse',
          {
            deviceId,
            challengeId,
            nonceDigest: nonceDigestOf(Buffer.from(nonce, 'base64')),
            enrolmentKeyDigest,
            ...(firmwareMeasurement ? { firmwareMeasurement } : {}),
          },
          uplinkMetadata(envelope, this.clock()),
        ),
      );
      const [event] = result.events;
      if (event?.type === 'IdentityVerificationFailed') {
        this.logger.warn(
          { event: 'registry.identity_verification_failed', deviceId, challengeId, reason: event.data.reason },
          'identity verification failed',
        );
        return refusedUplink(event.data.reason, 'identity not verified');
      }
      if (event?.type === 'IdentityVerified' && !result.alreadyHandled) {
        this.logger.debug({ event: 'registry.identity_verified', deviceId, challengeId }, 'identity verified');
      }
      return acceptedUplink();
    } catch (error) {
      if (isCommandRejected(error)) return refusedUplink(error.reason, error.message);
      throw error;
    }
  }

  /**
   * A response refused before it could be trusted (forged, replayed, malformed) is recorded against
   * the challenge it names, which stays open: a forger must not be able to fail a genuine device.
   */
  async recordUntrustedResponse(
    deviceId: string,
    rawBody: unknown,
    reason: VerificationFailureReason,
    counter: number | undefined,
  ): Promise<void> {
    const challengeId = (rawBody as { challengeId?: unknown } | null)?.challengeId;
    if (!isAggregateId(challengeId)) return;
    // Keyed by what was refused, so a flood of copies records one fact per challenge and reason.
    const commandId = derivedCommandId(`refused-${deviceId}`, `${challengeId}-${reason}`);
    const metadata = {
      commandId,
      correlationId: commandId,
      now: this.clock().toISOString(),
      actor: { kind: 'service' as const, id: 'registry' },
    };
    try {
      await this.#device(commandOf('RecordVerificationFailure', { deviceId, challengeId, reason }, metadata));
    } catch (error) {
      if (!isCommandRejected(error)) throw error;
    }
    this.logger.debug(
      { event: 'registry.untrusted_identity_response', deviceId, challengeId, reason, counter },
      'untrusted identity response recorded',
    );
  }

  #device(command: DeviceCommand) {
    const { deviceId } = command.data;
    return handleCommand({
      store: this.store,
      decider: deviceDecider,
      stream: deviceStream(deviceId),
      cache: this.deviceStates.for(deviceId),
      command,
      logger: this.logger,
    });
  }
}
