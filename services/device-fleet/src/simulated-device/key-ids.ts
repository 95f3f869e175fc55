import { ENROLMENT_CONTEXT, tlsContext, type KeyContext } from '@tunnelkey/puf';
import { deviceKeyIdPattern, parseTlsKeyId } from '@tunnelkey/contracts';

/** A device key id on the wire: `enrolment`, `tls-<generation>` (epoch 0) or `tls-<epoch>-<generation>`. */
export type DeviceKeyId = 'enrolment' | `tls-${number}` | `tls-${number}-${number}`;

const keyIdRegExp = new RegExp(deviceKeyIdPattern);

export function isDeviceKeyId(value: string): value is DeviceKeyId {
  return keyIdRegExp.test(value);
}

/** The PUF key context a wire key id names: each id is its own HKDF label, hence its own key. */
export function keyContextOf(keyId: DeviceKeyId): KeyContext {
  if (keyId === 'enrolment') return ENROLMENT_CONTEXT;
  const { generation, epoch } = parseTlsKeyId(keyId)!;
  return tlsContext(generation, epoch);
}

/** The owner epoch a key id belongs to (the enrolment key belongs to every epoch: undefined). */
export function ownerEpochOfKeyId(keyId: DeviceKeyId): number | undefined {
  return keyId === 'enrolment' ? undefined : parseTlsKeyId(keyId)!.epoch;
}
