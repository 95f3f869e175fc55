import { Inject, Injectable } from '@nestjs/common';
import { derivedCommandId, handleCommand, isCommandRejected, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { deviceDecider } from '../deciders/device.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import type { UnrecordedCertificate } from '../views/unrecorded-certificates.view.js';

/** The CA issued a device's certificate: DeviceCertified on the device. A refusal is logged and resolves (it is final). */
@Injectable()
export class RecordCertificateHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly deviceStates: DeviceStateCache,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(certificate: UnrecordedCertificate): Promise<void> {
    const { deviceId, authorityId, serialNumber, fingerprintSha256, notAfter } = certificate;
    // From the CA's event id: a second attempt (another instance, a pass after a restart) derives the same command, which writes nothing.
    const commandId = derivedCommandId('ca', certificate.issuedEventId);
    const metadata = {
      commandId,
      correlationId: certificate.correlationId,
      now: this.clock().toISOString(),
      actor: { kind: 'service' as const, id: 'ca' },
    };
    try {
      const result = await handleCommand({
        store: this.store,
        decider: deviceDecider,
        stream: deviceStream(deviceId),
        cache: this.deviceStates.for(deviceId),
        command: commandOf(
          'RecordCertificate',
          { deviceId, authorityId, serialNumber, fingerprintSha256, notAfter },
          metadata,
        ),
        logger: this.logger,
      });
      if (result.events.length > 0 && !result.alreadyHandled) {
        this.logger.debug({ event: 'registry.device_certified', deviceId, serialNumber }, 'device certified');
      }
    } catch (error) {
      // A refusal is final (e.g. the device was revoked meanwhile): the job does not try it again.
      if (!isCommandRejected(error)) throw error;
      this.logger.warn(
        { event: 'registry.certificate_not_recorded', deviceId, serialNumber, reason: error.reason },
        'certificate not recorded',
      );
    }
  }
}
