/**
 * ReleaseQuarantine: an operator lifts a device's quarantine (DeviceQuarantineReleased); onboarding
 * gives it its policy rights back at every broker. A device not quarantined is answered
 * `released: false` and nothing is written; an unknown device is NOT_FOUND.
 */
import { Inject, Injectable } from '@nestjs/common';
import { ReleaseQuarantine, type ResultOf } from '@tunnelkey/contracts';
import { handleCommand, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { integrityDecider } from '../deciders/integrity.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { notFound } from '../shared/registry-errors.js';
import { integrityStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';

@Injectable()
export class ReleaseQuarantineHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly devices: DeviceByIdView,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof ReleaseQuarantine>> {
    const { commandId, correlationId, actor, deviceId, note } = ReleaseQuarantine.parse(payload);
    if (!this.devices.deviceState(deviceId)) {
      await this.devices.catchUp();
      if (!this.devices.deviceState(deviceId)) throw notFound(`device ${deviceId}`, { deviceId });
    }
    const metadata = metadataOf({ commandId, correlationId, actor }, this.clock());
    const releasedBy = actor?.id ?? 'operator';
    const result = await handleCommand({
      store: this.store,
      decider: integrityDecider,
      stream: integrityStream(deviceId),
      command: commandOf('ReleaseQuarantine', { deviceId, releasedBy, ...(note ? { note } : {}) }, metadata),
      logger: this.logger,
    });
    const released = result.events.length > 0;
    if (released && !result.alreadyHandled)
      this.logger.info({ event: 'registry.quarantine_released', deviceId, commandId }, 'quarantine released');
    return { deviceId, released };
  }
}
