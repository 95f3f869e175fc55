/**
 * A device's firmware-decryption public keys (`firmware-keys`): verified as every uplink (enrolment
 * key), then their attestation checked (the enrolment key's signature over the two keys, as
 * @tunnelkey/firmware defines it), then recorded once (DeviceFirmwareKeysRecorded). Wraps are only
 * ever made for keys recorded this way.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { FirmwareKeysMessage, type DeviceBodyOf, type DeviceEnvelope } from '@tunnelkey/contracts';
import { derivedCommandId } from '@tunnelkey/eventstore';
import { encryptionKeysAttestationValid } from '@tunnelkey/firmware';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { OtaConfig } from '../config.js';
import { otaActor, OtaWriter } from '../shared/ota-writer.js';
import { UplinkSubscription } from '../shared/uplink-subscription.js';
import { CLOCK, OTA_CONFIG, OTA_LOGGER, type Clock } from '../tokens.js';
import { FleetView } from '../views/fleet.view.js';

@Injectable()
export class FirmwareKeysUplinkController implements OnApplicationBootstrap, OnModuleDestroy {
  readonly uplinks: UplinkSubscription;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly writer: OtaWriter,
    private readonly fleet: FleetView,
    @Inject(OTA_CONFIG) config: OtaConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(OTA_LOGGER) private readonly logger: Logger,
  ) {
    this.uplinks = new UplinkSubscription({
      kind: FirmwareKeysMessage.kind,
      namespace: config.namespace,
      fleet,
      clock,
      logger,
      concurrency: 32,
      handle: (envelope) => this.record(envelope),
    });
  }

  onApplicationBootstrap(): void {
    this.uplinks.start(this.nc);
  }

  onModuleDestroy(): Promise<void> {
    return this.uplinks.stop();
  }

  async record(envelope: DeviceEnvelope): Promise<void> {
    const { deviceId } = envelope;
    const body = envelope.body as DeviceBodyOf<typeof FirmwareKeysMessage>;
    const device = this.fleet.device(deviceId)!;
    const statement = { deviceId, ecdhPublicKey: body.ecdhPublicKey, mlKemPublicKey: body.mlKemPublicKey };
    const enrolmentKey = new Uint8Array(Buffer.from(device.enrolmentPublicKey, 'base64'));
    if (!encryptionKeysAttestationValid(statement, body.attestation, enrolmentKey)) {
      this.logger.warn(
        { event: 'ota.firmware_keys_refused', deviceId, reason: 'bad-attestation' },
        'firmware keys refused',
      );
      return;
    }
    await this.writer.recordDevice(deviceId, {
      type: 'RecordFirmwareKeys',
      data: { ...statement, attestation: body.attestation },
      metadata: {
        commandId: derivedCommandId(deviceId, 'firmware-keys', `${envelope.counter}`),
        now: this.clock().toISOString(),
        actor: otaActor,
      },
    });
  }
}
