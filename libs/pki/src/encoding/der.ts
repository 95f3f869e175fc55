/** Small DER helpers pkijs leaves to us: minimal INTEGERs, RFC 5280 times, ASN.1 parsing with a typed error. */
import * as asn1js from 'asn1js';
import { pkijs } from '../engine.js';
import { InvalidPkiInputError, MalformedPkiObjectError } from '../errors.js';
import { toArrayBuffer, toHex } from './bytes.js';

/** Unsigned big-endian magnitude -> DER INTEGER bytes (minimal, 0x00 prefix if the top bit is set). */
export const unsignedIntegerContent = (magnitude: Uint8Array): Uint8Array => {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  if (trimmed.length === 0) return new Uint8Array([0]);
  if ((trimmed[0] ?? 0) & 0x80) {
    const out = new Uint8Array(trimmed.length + 1);
    out.set(trimmed, 1);
    return out;
  }
  return trimmed.slice();
};

export const unsignedInteger = (magnitude: Uint8Array): asn1js.Integer =>
  new asn1js.Integer({ valueHex: toArrayBuffer(unsignedIntegerContent(magnitude)) });

export const bigintToBytes = (value: bigint): Uint8Array => {
  if (value < 0n) throw new InvalidPkiInputError('negative integer', {});
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return new Uint8Array(Buffer.from(hex, 'hex'));
};

/** INTEGER content -> unsigned hex without leading zero octets (how serials are shown and compared). */
export const integerHex = (int: asn1js.Integer): string => {
  const bytes = int.valueBlock.valueHexView;
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return toHex(bytes.subarray(start));
};

/** Normalises caller-provided serial hex the same way (`00ab` and `AB` are one serial). */
export const normaliseSerialHex = (hex: string): string => {
  const h = hex.toLowerCase().replace(/^(00)+(?=..)/, '');
  if (!/^([0-9a-f]{2})+$/.test(h)) throw new InvalidPkiInputError('serial is not an even-length hex string', {});
  return h;
};

/** X.509 times have whole seconds: the instant a date becomes once encoded. */
export const wholeSeconds = (date: Date): Date => new Date(Math.floor(date.getTime() / 1000) * 1000);

/** From 2050 on, X.509 times are GeneralizedTime (RFC 5280 4.1.2.5). */
export const GENERALIZED_FROM = Date.UTC(2050, 0, 1);

/**
 * RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, whole seconds only
 * (asn1js would otherwise write fractional seconds, which 5280 forbids).
 */
export const x509Time = (date: Date): InstanceType<typeof pkijs.Time> => {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new InvalidPkiInputError('invalid date', {});
  const value = wholeSeconds(date);
  return new pkijs.Time({ type: ms < GENERALIZED_FROM ? 0 : 1, value });
};

/** BER/DER bytes -> ASN.1 object, with a typed error naming what we expected. */
export const parseAsn1 = (der: Uint8Array, what: string): asn1js.AsnType => {
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(toArrayBuffer(der));
  } catch (e) {
    // asn1js throws plain Errors on some malformed content (a bad GeneralizedTime, found by fuzzing).
    throw new MalformedPkiObjectError(`${what}: not valid DER`, { what }, { cause: e });
  }
  if (parsed.offset === -1) throw new MalformedPkiObjectError(`${what}: not valid DER`, { what });
  if (parsed.offset !== der.byteLength) {
    throw new MalformedPkiObjectError(`${what}: trailing bytes after the DER object`, { what, length: der.byteLength });
  }
  return parsed.result;
};

/** Runs a pkijs decoder and turns its untyped throws into our typed error. */
export const decodeWith = <T>(what: string, decode: () => T): T => {
  try {
    return decode();
  } catch (e) {
    if (e instanceof MalformedPkiObjectError) throw e;
    throw new MalformedPkiObjectError(`${what}: does not match the ASN.1 schema`, { what }, { cause: e });
  }
};
