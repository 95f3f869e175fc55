import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { AnnounceMessage, DeviceBodyOf, DeviceEnvelope } from '@tunnelkey/contracts';
import { isCommandRejected } from '@tunnelkey/eventstore';
import { acceptedUplink, refusedUplink, type UplinkOutcome } from '../device-uplinks/uplink-outcome.js';
import { commandOf, uplinkMetadata } from '../shared/command-metadata.js';
import { RegistryAggregates } from '../shared/registry-aggregates.js';
import { REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';

type Announce = DeviceEnvelope<'announce', DeviceBodyOf<typeof AnnounceMessage>>;

/**
 * A device says it exists. Its id is the digest of the key in the body and the message is signed
 * with that key (checked by the verifier before this runs), so an unknown device is recorded as
 * Announced; a known one changes nothing.
 */
@Injectable()
export class AnnounceHandler {
  constructor(
    private readonly aggregates: RegistryAggregates,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  async handle(envelope: Announce): Promise<UplinkOutcome> {
    const { deviceId, body } = envelope;
    const enrolmentKeyDigest = createHash('sha256').update(Buffer.from(body.enrolmentPublicKey, 'base64')).digest('hex');
    try {
      const result = await this.aggregates.device(
        commandOf(
          'AnnounceDevice',
          {
            deviceId,
            enrolmentPublicKey: body.enrolmentPublicKey,
            enrolmentKeyDigest,
            firmwareMeasurement: body.firmwareMeasurement,
            ...(body.firmwareVersion ? { firmwareVersion: body.firmwareVersion } : {}),
            ...(body.pufProfile ? { pufProfile: body.pufProfile } : {}),
          },
          uplinkMetadata(envelope, this.runtime.clock()),
        ),
      );
      if (result.events.length > 0 && !result.alreadyHandled) this.runtime.logger.info({ event: 'registry.device_announced', deviceId }, 'device announced itself');
      return acceptedUplink();
    } catch (error) {
      if (isCommandRejected(error)) return refusedUplink(error.reason, error.message);
      throw error;
    }
  }
}
