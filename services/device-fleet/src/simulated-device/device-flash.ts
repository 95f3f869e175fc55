import type { AcceptedDelegation } from '@tunnelkey/firmware';
import { FlashRecordFormatError } from '../errors.js';
import type { FirmwareSlots } from '../firmware/firmware-slots.js';

/** A certificate the device accepted for one of its keys, with the chain that came with it. */
export interface StoredCertificate {
  requestId: string;
  serialNumber: string;
  certificatePem: string;
  chainPem: string[];
  notAfter: string;
}

/** A CSR sent and not yet answered: the certificate that comes back must carry exactly this key. */
export interface PendingCsr {
  keyId: string;
  /** SPKI DER, base64, of the key the CSR asked to certify. */
  publicKey: string;
}

/** Where and as whom to connect once onboarded to a target (issue 5 uses it; stored only). */
export interface StoredConnectionParameters {
  endpoint: { protocol: 'mqtts'; host: string; port: number };
  clientId: string;
  topicPrefix: string;
  serverCaPem?: string;
  /** The device's certificate for this target (same TLS key, issued by the target's own CA). */
  clientCertificatePem?: string;
  /** The TLS key that certificate certifies (found by its public key when the parameters arrive). */
  keyId?: string;
}

/**
 * Everything a real device persists, and nothing more: public or integrity-protected data only.
 * No private key, root secret or PUF response is ever put here: keys are re-derived per use.
 */
export interface DeviceFlash {
  /** Public, integrity-protected fuzzy-extractor helper data (serialised by @tunnelkey/puf). */
  helperData: Uint8Array;
  /** SPKI DER of the enrolment key, as enrolled at the factory. */
  enrolmentPublicKey: Uint8Array;
  deviceId: string;
  pufProfile: string;
  firmware: { version: string; measurement: string };
  /** High-water mark of uplink counters: written before a message leaves, so a reboot never reuses one. */
  uplinkCounter: number;
  /** Last downlink counter accepted from the platform (0: none yet). */
  lastDownlinkCounter: number;
  certificates: Record<string, StoredCertificate>;
  pendingCsrs: Record<string, PendingCsr>;
  connections: Record<string, StoredConnectionParameters>;
  /** The manufacturer's signature over the enrolment key, written at the factory (absent: unattested). */
  manufacturerAttestation?: { keyId: string; signature: string };
  /** Product line (hardware id) the device refuses other products' firmware for (absent: the default product). */
  product?: string;
  /** The A/B firmware slots (absent until the first update: the factory image in slot A). */
  firmwareSlots?: FirmwareSlots;
  /** What the device trusts for updates: the last accepted metadata version and signing-key delegation. */
  firmwareTrust?: { lastMetadataVersion: number; delegation?: AcceptedDelegation };
  /**
   * The owner epoch the device derives its TLS keys under (absent: 0, the first owner's) and the
   * transfer that moved it there (acknowledged by the device; acknowledging it again is a retry).
   */
  owner?: { epoch: number; transferId: string };
}

export const flashFormatVersion = 1;

/** The flash record as JSON text (binary fields base64). */
export function flashToJson(flash: DeviceFlash): string {
  return JSON.stringify({
    formatVersion: flashFormatVersion,
    deviceId: flash.deviceId,
    pufProfile: flash.pufProfile,
    helperData: Buffer.from(flash.helperData).toString('base64'),
    enrolmentPublicKey: Buffer.from(flash.enrolmentPublicKey).toString('base64'),
    firmware: flash.firmware,
    uplinkCounter: flash.uplinkCounter,
    lastDownlinkCounter: flash.lastDownlinkCounter,
    certificates: flash.certificates,
    pendingCsrs: flash.pendingCsrs,
    connections: flash.connections,
    ...(flash.manufacturerAttestation ? { manufacturerAttestation: flash.manufacturerAttestation } : {}),
    ...(flash.product ? { product: flash.product } : {}),
    ...(flash.firmwareSlots ? { firmwareSlots: flash.firmwareSlots } : {}),
    ...(flash.firmwareTrust ? { firmwareTrust: flash.firmwareTrust } : {}),
    ...(flash.owner ? { owner: flash.owner } : {}),
  });
}

/** The flash record as the bytes a device would write. */
export function serialiseFlash(flash: DeviceFlash): Uint8Array {
  return new TextEncoder().encode(flashToJson(flash));
}

function field<T>(record: Record<string, unknown>, name: string, check: (v: unknown) => v is T): T {
  const value = record[name];
  if (!check(value))
    throw new FlashRecordFormatError(`flash record field ${name} is missing or malformed`, { field: name });
  return value;
}
const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isCounter = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a flash record back (a reboot). Shape-checked; helper-data integrity is checked by the PUF on use. */
export function parseFlash(input: Uint8Array | string): DeviceFlash {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof input === 'string' ? input : new TextDecoder().decode(input));
  } catch (error) {
    throw new FlashRecordFormatError('flash record is not JSON', {}, { cause: error });
  }
  if (!isObject(raw)) throw new FlashRecordFormatError('flash record is not an object');
  if (raw['formatVersion'] !== flashFormatVersion)
    throw new FlashRecordFormatError('unknown flash record version', { expected: flashFormatVersion });
  const firmware = field(raw, 'firmware', isObject);
  return {
    deviceId: field(raw, 'deviceId', isString),
    pufProfile: field(raw, 'pufProfile', isString),
    helperData: new Uint8Array(Buffer.from(field(raw, 'helperData', isString), 'base64')),
    enrolmentPublicKey: new Uint8Array(Buffer.from(field(raw, 'enrolmentPublicKey', isString), 'base64')),
    firmware: { version: field(firmware, 'version', isString), measurement: field(firmware, 'measurement', isString) },
    uplinkCounter: field(raw, 'uplinkCounter', isCounter),
    lastDownlinkCounter: field(raw, 'lastDownlinkCounter', isCounter),
    certificates: field(raw, 'certificates', isObject) as Record<string, StoredCertificate>,
    pendingCsrs: field(raw, 'pendingCsrs', isObject) as Record<string, PendingCsr>,
    connections: field(raw, 'connections', isObject) as Record<string, StoredConnectionParameters>,
    ...(raw['manufacturerAttestation'] === undefined
      ? {}
      : { manufacturerAttestation: attestationOf(field(raw, 'manufacturerAttestation', isObject)) }),
    ...(raw['product'] === undefined ? {} : { product: field(raw, 'product', isString) }),
    ...(raw['firmwareSlots'] === undefined ? {} : { firmwareSlots: slotsOf(field(raw, 'firmwareSlots', isObject)) }),
    ...(raw['firmwareTrust'] === undefined ? {} : { firmwareTrust: trustOf(field(raw, 'firmwareTrust', isObject)) }),
    ...(raw['owner'] === undefined ? {} : { owner: ownerOf(field(raw, 'owner', isObject)) }),
  };
}

function ownerOf(record: Record<string, unknown>): { epoch: number; transferId: string } {
  return { epoch: field(record, 'epoch', isCounter), transferId: field(record, 'transferId', isString) };
}

function slotsOf(record: Record<string, unknown>): FirmwareSlots {
  const active = record['active'];
  if (active !== 'a' && active !== 'b')
    throw new FlashRecordFormatError('flash firmware slot is not a or b', { field: 'active' });
  const image = (name: 'a' | 'b') => {
    if (record[name] === undefined) return {};
    const slot = field(record, name, isObject);
    return { [name]: { version: field(slot, 'version', isString), measurement: field(slot, 'measurement', isString) } };
  };
  return { active, ...image('a'), ...image('b'), bootCount: field(record, 'bootCount', isCounter) };
}

function trustOf(record: Record<string, unknown>): NonNullable<DeviceFlash['firmwareTrust']> {
  const lastMetadataVersion = field(record, 'lastMetadataVersion', isCounter);
  if (record['delegation'] === undefined) return { lastMetadataVersion };
  const d = field(record, 'delegation', isObject);
  return {
    lastMetadataVersion,
    delegation: {
      version: field(d, 'version', isCounter),
      ecdsaPublicKey: field(d, 'ecdsaPublicKey', isString),
      mlDsaPublicKey: field(d, 'mlDsaPublicKey', isString),
    },
  };
}

function attestationOf(record: Record<string, unknown>): { keyId: string; signature: string } {
  return { keyId: field(record, 'keyId', isString), signature: field(record, 'signature', isString) };
}
