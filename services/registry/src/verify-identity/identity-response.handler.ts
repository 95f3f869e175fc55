import { Inject, Injectable } from '@nestjs/common';
import { isAggregateId, type DeviceBodyOf, type DeviceEnvelope, type IdentityResponseMessage } from '@tunnelkey/contracts';
import { isCommandRejected } from '@tunnelkey/eventstore';
import type { VerificationFailureReason } from '../deciders/device-state.js';
import { UplinkKeyResolver } from '../device-uplinks/uplink-key-resolver.js';
import { acceptedUplink, refusedUplink, type UplinkOutcome } from '../device-uplinks/uplink-outcome.js';
import { RegistryReadModel } from '../read-model/registry-read-model.js';
import { commandOf, derivedCommandId, uplinkMetadata } from '../shared/command-metadata.js';
import { RegistryAggregates } from '../shared/registry-aggregates.js';
import { REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';
import { nonceDigestOf } from './challenge-nonces.js';

type IdentityResponse = DeviceEnvelope<'identity-response', DeviceBodyOf<typeof IdentityResponseMessage>>;

/** An identity-response that verified: IdentityVerified, or IdentityVerificationFailed with the reason. */
@Injectable()
export class IdentityResponseHandler {
  constructor(
    private readonly aggregates: RegistryAggregates,
    private readonly keys: UplinkKeyResolver,
    private readonly readModel: RegistryReadModel,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  async handle(envelope: IdentityResponse): Promise<UplinkOutcome> {
    const { deviceId } = envelope;
    const { challengeId, nonce, firmwareMeasurement } = envelope.body;
    const enrolmentKeyDigest = this.keys.digestFor(envelope);
    if (!enrolmentKeyDigest) return refusedUplink('wrong-key');
    const now = this.runtime.clock();
    try {
      const result = await this.aggregates.deviceFromKnownState(
        this.readModel.knownDevice(deviceId),
        commandOf(
          'CheckIdentityResponse',
          { deviceId, challengeId, nonceDigest: nonceDigestOf(Buffer.from(nonce, 'base64')), enrolmentKeyDigest, ...(firmwareMeasurement ? { firmwareMeasurement } : {}) },
          uplinkMetadata(envelope, now),
        ),
      );
      const [event] = result.events;
      if (event?.type === 'IdentityVerificationFailed') {
        this.runtime.logger.warn({ event: 'registry.identity_verification_failed', deviceId, challengeId, reason: event.data.reason }, 'identity verification failed');
        return refusedUplink(event.data.reason, 'identity not verified');
      }
      if (event?.type === 'IdentityVerified' && !result.alreadyHandled) {
        this.runtime.logger.debug({ event: 'registry.identity_verified', deviceId, challengeId }, 'identity verified');
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
  async recordUntrustedResponse(deviceId: string, rawBody: unknown, reason: VerificationFailureReason, counter: number | undefined): Promise<void> {
    const challengeId = (rawBody as { challengeId?: unknown } | null)?.challengeId;
    if (!isAggregateId(challengeId)) return;
    const now = this.runtime.clock();
    // Keyed by what was refused, so a flood of copies records one fact per challenge and reason.
    const commandId = derivedCommandId(`refused-${deviceId}`, `${challengeId}-${reason}`);
    try {
      await this.aggregates.device(
        commandOf('RecordVerificationFailure', { deviceId, challengeId, reason }, { commandId, correlationId: commandId, now: now.toISOString(), actor: { kind: 'service', id: 'registry' } }),
      );
    } catch (error) {
      if (!isCommandRejected(error)) throw error;
    }
    this.runtime.logger.debug({ event: 'registry.untrusted_identity_response', deviceId, challengeId, reason, counter }, 'untrusted identity response recorded');
  }
}
