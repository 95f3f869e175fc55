import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { AnnounceMessage, DeviceBodyOf, DeviceEnvelope } from '@tunnelkey/contracts';
import { handleCommand, isCommandRejected, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { deviceDecider } from '../deciders/device.decider.js';
import { acceptedUplink, refusedUplink, type UplinkOutcome } from '../device-uplinks/uplink-outcome.js';
import type { Clock } from '../shared/clock.js';
import { commandOf, uplinkMetadata } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';

export type Announce = DeviceEnvelope<'announce', DeviceBodyOf<typeof AnnounceMessage>>;

/**
 * A device says it exists. Its id is the digest of the key in the body and the message is signed
 * with that key (checked by the verifier before this runs), so an unknown device is recorded as
 * Announced; a known one changes nothing.
 */
@Injectable()
export class AnnounceHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly deviceStates: DeviceStateCache,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(envelope: Announce): Promise<UplinkOutcome> {
    const { deviceId, body } = envelope;
    const enrolmentKeyDigest = createHash('sha256')
      .update(Buffer.from(body.enrolmentPublicKey, 'base64'))
      .digest('hex');
    try {
      const result = await handleCommand({
        store: this.store,
        decider: deviceDecider,
        stream: deviceStream(deviceId),
        cache: this.deviceStates.for(deviceId),
        command: commandOf(
          'AnnounceDevice',
          {
            deviceId,
            enrolmentPublicKey: body.enrolmentPublicKey,
            enrolmentKeyDigest,
            firmwareMeasurement: body.firmwareMeasurement,
            ...(body.firmwareVersion ? { firmwareVersion: body.firmwareVersion } : {}),
            ...(body.pufProfile ? { pufProfile: body.pufProfile } : {}),
          },
          uplinkMetadata(envelope, this.clock()),
        ),
        logger: this.logger,
      });
      if (result.events.length > 0 && !result.alreadyHandled) {
        this.logger.info({ event: 'registry.device_announced', deviceId }, 'device announced itself');
      }
      return acceptedUplink();
    } catch (error) {
      if (isCommandRejected(error)) return refusedUplink(error.reason, error.message);
      throw error;
    }
  }
}
