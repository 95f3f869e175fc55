import { defineEvent, type EventOf } from '../define-event.js';
import { AggregateId } from '../envelope.js';
import { EcdsaP256Signature, SpkiDerBase64, Struct } from '../primitives.js';
import { DeviceFirmwareKeysRecorded, MlKemPublicKey } from './ota.events.js';

/** DeviceFirmwareKeysRecorded as first published, before the keys were per owner epoch. Read from old streams, never written. */
export const DeviceFirmwareKeysRecordedV1 = defineEvent({
  type: 'DeviceFirmwareKeysRecorded',
  version: 1,
  context: 'ota',
  aggregate: 'device',
  summary:
    "A device's firmware-decryption public keys (before owner epochs). Superseded by v2; stored v1 events are upcast.",
  public: true,
  data: Struct({
    deviceId: AggregateId,
    ecdhPublicKey: SpkiDerBase64,
    mlKemPublicKey: MlKemPublicKey,
    attestation: EcdsaP256Signature,
  }),
});

/** v1 -> v2: keys recorded before owner epochs existed are the first owner's (epoch 0), as the device derived them. */
export function upcastDeviceFirmwareKeysRecordedV1(
  event: EventOf<typeof DeviceFirmwareKeysRecordedV1>,
): EventOf<typeof DeviceFirmwareKeysRecorded> {
  return { ...event, version: 2, data: { ...event.data, ownerEpoch: 0 } };
}
