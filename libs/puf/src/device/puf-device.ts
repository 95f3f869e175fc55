import { HelperData, serialiseHelperData, toHelperData } from '../extractor/helper-data.js';
import { enrolResponse, recoverRootSecret } from '../extractor/fuzzy-extractor.js';
import { identityFromPublicKey } from '../keys/device-identity.js';
import {
  ENROLMENT_CONTEXT,
  KeyContext,
  firmwareDecryptionContext,
  firmwareKemContext,
  keyContextLabel,
} from '../keys/key-context.js';
import { DerivedKemKeyPair, deriveMlKemKeyPair } from '../keys/ml-kem-key-derivation.js';
import { DerivedKeyPair, deriveContextSecret, deriveP256KeyPair } from '../keys/p256-key-derivation.js';
import { SimulationSeed } from '../simulation/deterministic-prng.js';
import { OperatingConditions, conditions as withDefaults } from '../simulation/operating-conditions.js';
import {
  PufProfile,
  PufProfileName,
  cellCountOf,
  resolveProfile,
  validateProfile,
} from '../simulation/puf-profiles.js';
import { SimulatedCellArray, manufacturingSeed, randomManufacturingSeed } from '../simulation/simulated-cell-array.js';

/**
 * The device's two firmware-decryption keys, from one PUF read: the ECDH P-256 pair of the
 * `firmware-decryption` context and the ML-KEM-768 pair of the `firmware-kem` context (the hybrid
 * key wrap of OTA content keys needs both). Drop them after use; `mlKem.dispose()` wipes the KEM key.
 */
export interface FirmwareDecryptionKeys {
  readonly ecdh: DerivedKeyPair;
  readonly mlKem: DerivedKemKeyPair;
  /** The pairs of `also` (e.g. the enrolment key that signs the update's messages), same read. */
  readonly also: DerivedKeyPair[];
}

/** What enrolment hands out: all public, all a device keeps in flash (no private key, no root secret). */
export interface EnrolmentRecord {
  /** Serialised helper data (see serialiseHelperData). */
  readonly helperData: Uint8Array;
  /** SPKI DER of the enrolment key: the platform registers it. */
  readonly enrolmentPublicKey: Uint8Array;
  /** identityFromPublicKey(enrolmentPublicKey). */
  readonly deviceId: string;
}

/**
 * One reserved read of a device's silicon as plain, structured-cloneable data, so another thread
 * standing for the device's own hardware can perform it (`deriveKeysFromRead`) with exactly the
 * bits the device would have read itself. It carries the hidden silicon seed: treat it like the
 * silicon, hand it only to the thread simulating this device, never log or persist it.
 */
export interface PufRead {
  readonly seed: SimulationSeed;
  readonly profile: PufProfile;
  /** Which read of this silicon it is: the read noise is keyed by it. */
  readonly readIndex: number;
}

export interface ManufactureOptions {
  /** Hidden silicon seed: reproducible devices from a number/string/bytes; random when omitted. */
  seed?: string | number | Uint8Array | SimulationSeed;
  /** 'sram' (default), 'tunnelling' or a customised profile. */
  profile?: PufProfile | PufProfileName;
  /** Cache per-cell parameters (16 bytes/cell) for faster reads instead of regenerating them. */
  retainCellParameters?: boolean;
}

function isSimulationSeed(s: unknown): s is SimulationSeed {
  return Array.isArray(s) && s.length === 4 && s.every((w) => Number.isInteger(w));
}

/**
 * A simulated device's root of trust: silicon (a PUF cell array) plus the fuzzy extractor and key
 * derivation its firmware runs. Every key request re-reads the PUF under the given conditions,
 * rebuilds the root secret, derives the context key and forgets the secret.
 */
export class PufDevice {
  readonly profile: PufProfile;
  readonly #seed: SimulationSeed;
  readonly #cells: SimulatedCellArray;

  private constructor(seed: SimulationSeed, cells: SimulatedCellArray, profile: PufProfile) {
    this.#seed = seed;
    this.#cells = cells;
    this.profile = profile;
  }

  static manufacture(options: ManufactureOptions = {}): PufDevice {
    const profile = resolveProfile(options.profile ?? 'sram');
    validateProfile(profile);
    const given =
      options.seed === undefined
        ? randomManufacturingSeed()
        : isSimulationSeed(options.seed)
          ? options.seed
          : manufacturingSeed(options.seed as string | number | Uint8Array);
    const seed: SimulationSeed = [given[0] >>> 0, given[1] >>> 0, given[2] >>> 0, given[3] >>> 0];
    const cells = new SimulatedCellArray(seed, cellCountOf(profile), profile.cells);
    if (options.retainCellParameters) cells.retainParameters();
    return new PufDevice(seed, cells, profile);
  }

  get cellCount(): number {
    return this.#cells.cellCount;
  }

  /**
   * One raw noisy PUF read (one bit per byte). Simulation diagnostics only: on a real device the
   * response never leaves the secure boundary; here the analysis module needs it.
   */
  readResponse(at: Partial<OperatingConditions> = {}): Uint8Array {
    return this.#cells.read(withDefaults(at));
  }

  /** Enrolment reference: majority of the profile's enrolmentReads reads. */
  readEnrolmentReference(at: Partial<OperatingConditions> = {}): Uint8Array {
    const reads = this.profile.enrolmentReads;
    const first = this.readResponse(at);
    if (reads === 1) return first;
    const ones = new Uint8Array(first);
    for (let r = 1; r < reads; r++) {
      const next = this.readResponse(at);
      for (let i = 0; i < ones.length; i++) ones[i]! += next[i]!;
    }
    for (let i = 0; i < ones.length; i++) ones[i] = ones[i]! > reads / 2 ? 1 : 0;
    return ones;
  }

  /** Factory enrolment (nominal conditions by default): helper data, enrolment public key, id. */
  async enrol(at: Partial<OperatingConditions> = {}): Promise<EnrolmentRecord> {
    const reference = this.readEnrolmentReference(at);
    const { helperData, rootSecret } = enrolResponse(reference, this.profile.code);
    reference.fill(0);
    const secret = deriveContextSecret(rootSecret, ENROLMENT_CONTEXT);
    rootSecret.fill(0);
    try {
      const pair = await deriveP256KeyPair(secret, ENROLMENT_CONTEXT);
      return {
        helperData: serialiseHelperData(helperData),
        enrolmentPublicKey: pair.publicKeySpki,
        deviceId: identityFromPublicKey(pair.publicKeySpki),
      };
    } finally {
      secret.fill(0);
    }
  }

  /** Re-read the PUF, rebuild the root secret and derive one context's key pair. */
  async deriveKey(
    context: KeyContext,
    helperData: HelperData | Uint8Array | string,
    at: Partial<OperatingConditions> = {},
  ): Promise<DerivedKeyPair> {
    const [pair] = await this.deriveKeys([context], helperData, at);
    return pair!;
  }

  /** Several contexts from one PUF read (e.g. at boot: enrolment + current TLS generation). */
  async deriveKeys(
    contexts: readonly KeyContext[],
    helperData: HelperData | Uint8Array | string,
    at: Partial<OperatingConditions> = {},
  ): Promise<DerivedKeyPair[]> {
    const parsed = toHelperData(helperData);
    return keysFromResponse(this.readResponse(at), contexts, parsed);
  }

  /**
   * Re-read the PUF and derive both firmware-decryption keys (ECDH P-256 + ML-KEM-768) of owner
   * epoch `epoch` (firmwareDecryptionContext, firmwareKemContext), and the pairs of `also`, from
   * that one read.
   */
  async deriveFirmwareDecryptionKeys(
    helperData: HelperData | Uint8Array | string,
    at: Partial<OperatingConditions> = {},
    also: readonly KeyContext[] = [],
    epoch = 0,
  ): Promise<FirmwareDecryptionKeys> {
    return firmwareKeysFromResponse(this.readResponse(at), toHelperData(helperData), also, epoch);
  }

  /**
   * Takes this silicon's next read without performing it: `deriveKeysFromRead(read, ...)`, in any
   * thread, then gives exactly what `deriveKeys` would have given here.
   */
  reserveRead(): PufRead {
    return { seed: this.#seed, profile: this.profile, readIndex: this.#cells.reserveRead() };
  }
}

/** `PufDevice.deriveKeys` for a read reserved with `reserveRead` (cells regenerated from the seed). */
export async function deriveKeysFromRead(
  read: PufRead,
  contexts: readonly KeyContext[],
  helperData: HelperData | Uint8Array | string,
  at: Partial<OperatingConditions> = {},
): Promise<DerivedKeyPair[]> {
  const parsed = toHelperData(helperData);
  validateProfile(read.profile);
  const cells = new SimulatedCellArray(read.seed, cellCountOf(read.profile), read.profile.cells);
  return keysFromResponse(cells.readAt(read.readIndex, withDefaults(at)), contexts, parsed);
}

/** `PufDevice.deriveFirmwareDecryptionKeys` for a read reserved with `reserveRead`. */
export async function deriveFirmwareDecryptionKeysFromRead(
  read: PufRead,
  helperData: HelperData | Uint8Array | string,
  at: Partial<OperatingConditions> = {},
  also: readonly KeyContext[] = [],
  epoch = 0,
): Promise<FirmwareDecryptionKeys> {
  const parsed = toHelperData(helperData);
  validateProfile(read.profile);
  const cells = new SimulatedCellArray(read.seed, cellCountOf(read.profile), read.profile.cells);
  return firmwareKeysFromResponse(cells.readAt(read.readIndex, withDefaults(at)), parsed, also, epoch);
}

async function firmwareKeysFromResponse(
  response: Uint8Array,
  helperData: HelperData,
  also: readonly KeyContext[],
  epoch: number,
): Promise<FirmwareDecryptionKeys> {
  // Labels checked before the PUF response is used (an invalid epoch throws here).
  const ecdhContext = firmwareDecryptionContext(epoch);
  const kemContext = firmwareKemContext(epoch);
  keyContextLabel(ecdhContext);
  let rootSecret: Uint8Array;
  try {
    rootSecret = recoverRootSecret(response, helperData);
  } finally {
    response.fill(0);
  }
  const ecdhSecret = deriveContextSecret(rootSecret, ecdhContext);
  const kemSecret = deriveContextSecret(rootSecret, kemContext);
  const alsoSecrets = also.map((c) => deriveContextSecret(rootSecret, c));
  rootSecret.fill(0);
  try {
    const mlKem = deriveMlKemKeyPair(kemSecret, kemContext);
    const [ecdh, ...pairs] = await Promise.all([
      deriveP256KeyPair(ecdhSecret, ecdhContext),
      ...also.map((c, i) => deriveP256KeyPair(alsoSecrets[i]!, c)),
    ]);
    return { ecdh: ecdh!, mlKem, also: pairs };
  } finally {
    ecdhSecret.fill(0);
    kemSecret.fill(0);
    for (const s of alsoSecrets) s.fill(0);
  }
}

/** Response -> root secret -> one key pair per context; every secret wiped once used. */
async function keysFromResponse(
  response: Uint8Array,
  contexts: readonly KeyContext[],
  helperData: HelperData,
): Promise<DerivedKeyPair[]> {
  let rootSecret: Uint8Array;
  try {
    rootSecret = recoverRootSecret(response, helperData);
  } finally {
    response.fill(0);
  }
  const secrets = contexts.map((c) => deriveContextSecret(rootSecret, c));
  rootSecret.fill(0);
  try {
    return await Promise.all(contexts.map((c, i) => deriveP256KeyPair(secrets[i]!, c)));
  } finally {
    for (const s of secrets) s.fill(0);
  }
}

/** A device flash record as JSON (helper data + public key + id): what a device may persist. */
export function enrolmentRecordToJson(record: EnrolmentRecord): string {
  return JSON.stringify({
    deviceId: record.deviceId,
    helperData: Buffer.from(record.helperData).toString('base64url'),
    enrolmentPublicKey: Buffer.from(record.enrolmentPublicKey).toString('base64url'),
  });
}
