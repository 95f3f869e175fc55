import { ConcatenatedCodeScheme } from '../codes/concatenated-code.js';
import { HelperDataFormatError } from '../errors.js';

/**
 * Public helper data of the code-offset secure sketch. Safe to store in flash and to publish:
 * it holds the response XOR a random codeword and a key-check tag, never a secret.
 */
export interface HelperData {
  readonly version: 1;
  readonly scheme: ConcatenatedCodeScheme;
  /** response XOR codeword, packed LSB-first, ceil(rawBits / 8) bytes. */
  readonly offset: Uint8Array;
  /** HMAC-SHA-256 tag binding the recovered secret to this exact helper data. */
  readonly keyCheck: Uint8Array;
}

/** 'T','K','H' then a version byte: cheap rejection of foreign blobs. */
const MAGIC = [0x54, 0x4b, 0x48] as const;
export const HELPER_DATA_VERSION = 1;
const HEADER_LENGTH = 3 + 1 + 4;
export const KEY_CHECK_LENGTH = 32;

export function rawBitCountOf(scheme: ConcatenatedCodeScheme): number {
  return scheme.bchBlocks * ((1 << scheme.bch.m) - 1) * scheme.repetition;
}

/** Header bytes: magic, version, repetition, BCH m, BCH t, block count. Also the MAC'd prefix. */
export function helperDataHeader(scheme: ConcatenatedCodeScheme): Uint8Array {
  return Uint8Array.of(...MAGIC, HELPER_DATA_VERSION, scheme.repetition, scheme.bch.m, scheme.bch.t, scheme.bchBlocks);
}

/** Compact binary form: header (8 bytes) | offset | key check (32 bytes). 486 bytes for sram. */
export function serialiseHelperData(h: HelperData): Uint8Array {
  const header = helperDataHeader(h.scheme);
  const out = new Uint8Array(header.length + h.offset.length + h.keyCheck.length);
  out.set(header, 0);
  out.set(h.offset, header.length);
  out.set(h.keyCheck, header.length + h.offset.length);
  return out;
}

export function parseHelperData(bytes: Uint8Array): HelperData {
  if (bytes.length < HEADER_LENGTH + KEY_CHECK_LENGTH) {
    throw new HelperDataFormatError('helper data too short', { length: bytes.length });
  }
  if (bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== MAGIC[2]) {
    throw new HelperDataFormatError('not tunnelkey PUF helper data (bad magic)');
  }
  const version = bytes[3]!;
  if (version !== HELPER_DATA_VERSION) {
    throw new HelperDataFormatError('unsupported helper data version', { version });
  }
  const repetition = bytes[4]!;
  const m = bytes[5]!;
  const t = bytes[6]!;
  const bchBlocks = bytes[7]!;
  if (
    repetition < 1 ||
    repetition % 2 === 0 ||
    m < 3 ||
    m > 8 ||
    t < 1 ||
    2 * t >= (1 << m) - 1 ||
    bchBlocks < 1 ||
    bchBlocks > 16
  ) {
    throw new HelperDataFormatError('helper data names an invalid code', { repetition, m, t, bchBlocks });
  }
  const scheme: ConcatenatedCodeScheme = { repetition, bchBlocks, bch: { m, t } };
  const offsetLength = Math.ceil(rawBitCountOf(scheme) / 8);
  if (bytes.length !== HEADER_LENGTH + offsetLength + KEY_CHECK_LENGTH) {
    throw new HelperDataFormatError('helper data length does not match its code', {
      length: bytes.length,
      expected: HEADER_LENGTH + offsetLength + KEY_CHECK_LENGTH,
    });
  }
  return {
    version: 1,
    scheme,
    offset: bytes.slice(HEADER_LENGTH, HEADER_LENGTH + offsetLength),
    keyCheck: bytes.slice(HEADER_LENGTH + offsetLength),
  };
}

/** URL-safe base64 (no padding) for JSON, events and device flash records. */
export function helperDataToBase64(h: HelperData | Uint8Array): string {
  const bytes = h instanceof Uint8Array ? h : serialiseHelperData(h);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function helperDataFromBase64(text: string): HelperData {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new HelperDataFormatError('helper data is not base64url');
  return parseHelperData(new Uint8Array(Buffer.from(text, 'base64url')));
}

/** Accept any of the three forms callers hold. */
export function toHelperData(h: HelperData | Uint8Array | string): HelperData {
  if (typeof h === 'string') return helperDataFromBase64(h);
  if (h instanceof Uint8Array) return parseHelperData(h);
  return h;
}
