import { Inject, Injectable } from '@nestjs/common';
import {
  EnrolmentKeyRequestMessage,
  type AnnounceMessage,
  type DeviceBodyOf,
  type DeviceEnvelope,
} from '@tunnelkey/contracts';
import type { Logger } from 'pino';
import { acceptedUplink, type UplinkOutcome } from '../device-uplinks/uplink-outcome.js';
import type { Downlinks } from '../downlink-port/downlinks.js';
import { AnnouncedDevices } from '../shared/announced-devices.js';
import type { Clock } from '../shared/clock.js';
import { DOWNLINKS, REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';
import { EnrolmentKeyRequestsView } from '../views/enrolment-key-requests.view.js';

export type Announce = DeviceEnvelope<'announce', DeviceBodyOf<typeof AnnounceMessage>>;

/** Open requests an announcing device is asked for its key by, newest first. */
const maxRequestsPerAnnouncement = 4;

/**
 * A device says it exists. Its id is the digest of the key in the body and the message is signed
 * with that key (checked by the verifier before this runs), which anyone with a generated key can
 * do: so nothing is written. An unknown device is remembered in memory for a while (bounded,
 * expiring) as a target of the next open enrolment-key request, and asked at once by the open ones.
 */
@Injectable()
export class AnnounceHandler {
  constructor(
    private readonly devices: DeviceByIdView,
    private readonly announced: AnnouncedDevices,
    private readonly requests: EnrolmentKeyRequestsView,
    @Inject(DOWNLINKS) private readonly downlinks: Downlinks,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(envelope: Announce): Promise<UplinkOutcome> {
    const { deviceId } = envelope;
    if (this.devices.identity(deviceId)) return acceptedUplink('known'); // known: announcing again changes nothing
    const now = this.clock();
    this.announced.remember(deviceId, now);
    const open = this.requests
      .openRequests(now)
      .sort((a, b) => b.expiresAt.localeCompare(a.expiresAt))
      .slice(0, maxRequestsPerAnnouncement);
    for (const { requestId, expiresAt } of open) {
      await this.downlinks.send(EnrolmentKeyRequestMessage, deviceId, { requestId, expiresAt });
    }
    this.logger.debug({ event: 'registry.device_announced', deviceId, asked: open.length }, 'device announced itself');
    return acceptedUplink('remembered');
  }
}
