/**
 * A device's firmware-decryption public keys (`firmware-keys`): verified as every uplink (enrolment
 * key), their owner epoch checked (the device's current one, as the fleet view knows it from
 * OwnershipTransferCompleted; absent means 0), then their attestation checked (the enrolment key's
 * signature over the two keys and their epoch, as @tunnelkey/firmware defines it), then recorded
 * once (DeviceFirmwareKeysRecorded). Wraps are only ever made for keys recorded this way, of the
 * device's current epoch. A refusal is logged with its reason and records nothing.
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

/** Why a `firmware-keys` message was not recorded. */
export type FirmwareKeysRefusal = 'other-owner-epoch' | 'bad-attestation';

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
      handle: async (envelope) => void (await this.record(envelope)),
    });
  }

  onApplicationBootstrap(): void {
    this.uplinks.start(this.nc);
  }

  onModuleDestroy(): Promise<void> {
    return this.uplinks.stop();
  }

  async record(envelope: DeviceEnvelope): Promise<'recorded' | FirmwareKeysRefusal> {
    const { deviceId } = envelope;
    const body = envelope.body as DeviceBodyOf<typeof FirmwareKeysMessage>;
    const device = this.fleet.device(deviceId)!;
    const ownerEpoch = body.ownerEpoch ?? 0;
    const refuse = (reason: FirmwareKeysRefusal, detail: string) => {
      this.logger.warn({ event: 'ota.firmware_keys_refused', deviceId, reason, detail }, 'firmware keys refused');
      return reason;
    };
    // Keys of an earlier owner's epoch are never used again; a later one is not the device's (yet).
    if (ownerEpoch !== device.ownerEpoch)
      return refuse(
        'other-owner-epoch',
        `keys of owner epoch ${ownerEpoch}; the device is in owner epoch ${device.ownerEpoch}`,
      );
    const statement = { deviceId, ecdhPublicKey: body.ecdhPublicKey, mlKemPublicKey: body.mlKemPublicKey, ownerEpoch };
    const enrolmentKey = new Uint8Array(Buffer.from(device.enrolmentPublicKey, 'base64'));
    if (!encryptionKeysAttestationValid(statement, body.attestation, enrolmentKey))
      return refuse('bad-attestation', 'the attestation is not the enrolment key signature over the keys');
    await this.writer.recordDevice(deviceId, {
      type: 'RecordFirmwareKeys',
      data: { ...statement, attestation: body.attestation },
      metadata: {
        commandId: derivedCommandId(deviceId, 'firmware-keys', `${envelope.counter}`),
        now: this.clock().toISOString(),
        actor: otaActor,
      },
    });
    return 'recorded';
  }
}
