import { canonicalJson } from '@tunnelkey/contracts';
import { FirmwareFormatError } from '../errors.js';
import type { TufKey } from '../keys/signing-keys.js';

/**
 * TUF metadata as we use it (TUF specification 1.0.31, the JSON that `@tufjs/models` and
 * python-tuf read). Two documents, both of TUF type `targets`:
 * - the delegation: top-level targets metadata signed by the platform key devices pin, whose only
 *   content is a delegation to the role `firmware` naming the two current firmware-signing keys
 *   with threshold 2 (think Uptane root -> targets);
 * - a release: targets metadata of the `firmware` role describing exactly one image (length,
 *   sha256, and our fields under `custom.tunnelkey`), signed by both delegated keys.
 * Signing bytes are the canonical JSON of `signed` (contracts' canonicalJson, RFC 8785); for the
 * printable-ASCII strings and integers we allow (keys in hex, not PEM) it is byte-for-byte TUF's
 * OLPC canonical JSON, so TUF tooling verifies our signatures over its own canonical form.
 */
export const TUF_SPEC_VERSION = '1.0.31';
export const FIRMWARE_ROLE = 'firmware';

export interface TufSignature {
  keyid: string;
  /** Hex: DER for ECDSA, raw for ML-DSA-65. */
  sig: string;
}

export interface TufDelegatedRole {
  name: string;
  keyids: string[];
  threshold: number;
  terminating: boolean;
  paths: string[];
}

/** Our fields of a target, under `custom.tunnelkey`. */
export interface FirmwareTargetCustom {
  firmwareId: string;
  /** Product line (TUF/Uptane's hardware id): a device refuses another product's image. */
  product: string;
  version: string;
}

export interface TufTargetFile {
  length: number;
  hashes: { sha256: string };
  custom: { tunnelkey: FirmwareTargetCustom };
}

export interface TufTargetsSigned {
  _type: 'targets';
  spec_version: string;
  /** Metadata version: strictly increasing per signer (per product for releases). */
  version: number;
  /** `YYYY-MM-DDTHH:MM:SSZ`. */
  expires: string;
  targets: Record<string, TufTargetFile>;
  delegations?: { keys: Record<string, TufKey>; roles: TufDelegatedRole[] };
}

/** Signed TUF metadata: `{ signatures, signed }`. */
export interface TufMetadata {
  signatures: TufSignature[];
  signed: TufTargetsSigned;
}

/** The bytes every signature of a metadata document covers. */
export function signingBytes(signed: TufTargetsSigned): Uint8Array {
  return new TextEncoder().encode(canonicalJson(signed));
}

/** TUF's timestamp form (whole seconds, `Z`). */
export function tufExpires(at: Date | string): string {
  const time = typeof at === 'string' ? Date.parse(at) : at.getTime();
  if (!Number.isFinite(time)) throw new FirmwareFormatError('expiry is not a date');
  return new Date(Math.floor(time / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const metadataToJson = (metadata: TufMetadata): string => JSON.stringify(metadata);

// ---- strict reading (devices read what the platform sent; nothing unchecked reaches a decision) ----

const maxMetadataChars = 64 * 1024;
const printable = /^[\x20-\x7e]*$/;
const hex = /^[0-9a-f]*$/;
const expiresPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(what: string): never {
  throw new FirmwareFormatError(`metadata: ${what}`, { field: what });
}
function str(record: Json, name: string, pattern = printable, max = 4096): string {
  const v = record[name];
  if (typeof v !== 'string' || v.length > max || !pattern.test(v)) fail(name);
  return v;
}
function int(record: Json, name: string, min = 0): number {
  const v = record[name];
  if (!Number.isSafeInteger(v) || (v as number) < min) fail(name);
  return v as number;
}
function obj(record: Json, name: string): Json {
  const v = record[name];
  if (!isObject(v)) fail(name);
  return v;
}
function strings(record: Json, name: string, pattern = printable): string[] {
  const v = record[name];
  if (!Array.isArray(v) || v.length > 64) fail(name);
  return v.map((s, i) => {
    if (typeof s !== 'string' || !pattern.test(s) || s.length > 256) fail(`${name}/${i}`);
    return s;
  });
}

function readKey(raw: unknown, at: string): TufKey {
  if (!isObject(raw)) fail(at);
  const keytype = str(raw, 'keytype');
  const scheme = str(raw, 'scheme');
  const keyval = obj(raw, 'keyval');
  const pub = keyval['public'];
  if (typeof pub !== 'string' || pub.length > 8192 || !hex.test(pub)) fail(`${at}/keyval`);
  if (!((keytype === 'ecdsa' && scheme === 'ecdsa-sha2-nistp256') || (keytype === 'ml-dsa' && scheme === 'ml-dsa-65')))
    fail(`${at}/scheme`);
  return { keytype, scheme, keyval: { public: pub } };
}

function readTarget(raw: unknown, at: string): TufTargetFile {
  if (!isObject(raw)) fail(at);
  const hashes = obj(raw, 'hashes');
  const tunnelkey = obj(obj(raw, 'custom'), 'tunnelkey');
  return {
    length: int(raw, 'length', 1),
    hashes: { sha256: str(hashes, 'sha256', /^[0-9a-f]{64}$/) },
    custom: {
      tunnelkey: {
        firmwareId: str(tunnelkey, 'firmwareId', printable, 128),
        product: str(tunnelkey, 'product', printable, 128),
        version: str(tunnelkey, 'version', printable, 64),
      },
    },
  };
}

/**
 * Reads signed targets metadata from its JSON text (or parsed JSON), keeping only the fields we
 * know, in their exact types. Throws FirmwareFormatError saying which field is wrong.
 */
export function parseTufMetadata(input: string | unknown): TufMetadata {
  let raw: unknown = input;
  if (typeof input === 'string') {
    if (input.length > maxMetadataChars) fail('size');
    try {
      raw = JSON.parse(input);
    } catch {
      fail('json');
    }
  }
  if (!isObject(raw)) fail('document');
  const signaturesRaw = raw['signatures'];
  if (!Array.isArray(signaturesRaw) || signaturesRaw.length > 8) fail('signatures');
  const signatures = signaturesRaw.map((s, i) => {
    if (!isObject(s)) fail(`signatures/${i}`);
    return { keyid: str(s, 'keyid', /^[0-9a-f]{64}$/), sig: str(s, 'sig', hex, 16384) };
  });
  const s = obj(raw, 'signed');
  if (s['_type'] !== 'targets') fail('_type');
  const expires = str(s, 'expires', expiresPattern);
  const targetsRaw = obj(s, 'targets');
  const targets: Record<string, TufTargetFile> = {};
  for (const [path, target] of Object.entries(targetsRaw)) {
    if (!printable.test(path) || path.length > 256) fail('targets/path');
    targets[path] = readTarget(target, `targets/${path}`);
  }
  const signed: TufTargetsSigned = {
    _type: 'targets',
    spec_version: str(s, 'spec_version', /^1\.\d+\.\d+$/),
    version: int(s, 'version', 1),
    expires,
    targets,
  };
  if (s['delegations'] !== undefined) {
    const d = obj(s, 'delegations');
    const keys: Record<string, TufKey> = {};
    for (const [keyid, key] of Object.entries(obj(d, 'keys'))) {
      if (!/^[0-9a-f]{64}$/.test(keyid)) fail('delegations/keys');
      keys[keyid] = readKey(key, `delegations/keys/${keyid}`);
    }
    const rolesRaw = d['roles'];
    if (!Array.isArray(rolesRaw) || rolesRaw.length > 8) fail('delegations/roles');
    const roles = rolesRaw.map((r, i): TufDelegatedRole => {
      if (!isObject(r)) fail(`delegations/roles/${i}`);
      if (typeof r['terminating'] !== 'boolean') fail(`delegations/roles/${i}/terminating`);
      return {
        name: str(r, 'name', printable, 64),
        keyids: strings(r, 'keyids', /^[0-9a-f]{64}$/),
        threshold: int(r, 'threshold', 1),
        terminating: r['terminating'],
        paths: strings(r, 'paths'),
      };
    });
    signed.delegations = { keys, roles };
  }
  return { signatures, signed };
}
