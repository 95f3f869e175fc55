import { ENROLMENT_CONTEXT, tlsContext, type KeyContext } from '@tunnelkey/puf';
import { deviceKeyIdPattern } from '@tunnelkey/contracts';

/** A device key id on the wire: `enrolment` or `tls-<generation>`. */
export type DeviceKeyId = 'enrolment' | `tls-${number}`;

const keyIdRegExp = new RegExp(deviceKeyIdPattern);

export function isDeviceKeyId(value: string): value is DeviceKeyId {
  return keyIdRegExp.test(value);
}

/** The PUF key context a wire key id names: each id is its own HKDF label, hence its own key. */
export function keyContextOf(keyId: DeviceKeyId): KeyContext {
  if (keyId === 'enrolment') return ENROLMENT_CONTEXT;
  return tlsContext(Number(keyId.slice('tls-'.length)));
}
