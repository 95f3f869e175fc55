import { pkijs } from '../engine.js';
import { readSingle, TAG } from '../encoding/der-reader.js';
import { decodeWith } from '../encoding/der.js';
import { InvalidPkiInputError } from '../errors.js';
import { OID } from '../oids.js';
import { encodeValue, toPkijsExtension, type X509Extension } from './extension.js';
import { readGeneralNames } from './general-names.js';

const URI = 6; // GeneralName [6] uniformResourceIdentifier
const DNS = 2; // GeneralName [2] dNSName

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DNS_NAME =
  /^(?=.{1,253}$)(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Device ids end up in a CN (<= 64 chars), a URN and MQTT client ids: keep them to a safe alphabet. */
export const assertDeviceId = (deviceId: string): void => {
  if (!DEVICE_ID.test(deviceId)) {
    throw new InvalidPkiInputError('device id must be 1..64 characters of [A-Za-z0-9._-], starting alphanumeric', {
      length: deviceId.length,
    });
  }
};

/** The SAN URI that names a device: `urn:tunnelkey:device:<id>`. */
export const deviceUri = (deviceId: string): string => {
  assertDeviceId(deviceId);
  return `urn:tunnelkey:device:${deviceId}`;
};

/** Inverse of deviceUri; undefined for any other URI. */
export const deviceIdFromUri = (uri: string): string | undefined => {
  const m = /^urn:tunnelkey:device:(.+)$/.exec(uri);
  return m && DEVICE_ID.test(m[1] ?? '') ? m[1] : undefined;
};

/** SubjectAltName (RFC 5280 4.2.1.6) with the name forms we use: URIs and DNS names. */
export class SubjectAltName implements X509Extension {
  readonly oid = OID.subjectAltName;
  /** Critical only when the subject is empty (RFC 5280); ours always has a CN. */
  readonly critical = false;

  private constructor(
    readonly uris: readonly string[],
    readonly dnsNames: readonly string[],
  ) {}

  static of(args: { uris?: readonly string[]; dnsNames?: readonly string[] }): SubjectAltName {
    const uris = args.uris ?? [];
    const dnsNames = args.dnsNames ?? [];
    if (uris.length + dnsNames.length === 0)
      throw new InvalidPkiInputError('SubjectAltName needs at least one name', {});
    for (const u of uris) {
      // IA5String only, and a scheme: RFC 5280 requires an absolute URI.
      if (!/^[\x21-\x7e]+$/.test(u) || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(u)) {
        throw new InvalidPkiInputError('SubjectAltName URI must be an absolute ASCII URI', { length: u.length });
      }
    }
    for (const d of dnsNames) {
      if (!DNS_NAME.test(d)) throw new InvalidPkiInputError('SubjectAltName DNS name is not a valid host name', {});
    }
    return new SubjectAltName([...uris], [...dnsNames]);
  }

  static forDevice(deviceId: string, dnsNames: readonly string[] = []): SubjectAltName {
    return SubjectAltName.of({ uris: [deviceUri(deviceId)], dnsNames });
  }

  /** Strict DER; every GeneralName form is checked, URIs and DNS names are kept. */
  static fromDer(extnValue: Uint8Array): SubjectAltName {
    const names = readGeneralNames(extnValue, readSingle(extnValue, TAG.SEQUENCE, 'SubjectAltName'), 'SubjectAltName');
    return new SubjectAltName(names.uris, names.dnsNames);
  }

  /** The same through pkijs: the reference `fromDer` is tested against. */
  static fromDerWithPkijs(extnValue: Uint8Array): SubjectAltName {
    const alt = decodeWith('SubjectAltName', () => pkijs.AltName.fromBER(extnValue));
    const pick = (type: number) => alt.altNames.filter((n) => n.type === type).map((n) => String(n.value));
    return new SubjectAltName(pick(URI), pick(DNS));
  }

  toDer(): Uint8Array {
    return encodeValue(
      new pkijs.AltName({
        altNames: [
          ...this.uris.map((value) => new pkijs.GeneralName({ type: URI, value })),
          ...this.dnsNames.map((value) => new pkijs.GeneralName({ type: DNS, value })),
        ],
      }),
    );
  }

  toExtension() {
    return toPkijsExtension(this);
  }
}
