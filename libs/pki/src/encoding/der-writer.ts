/**
 * A minimal DER writer: TLVs assembled from already-encoded parts, definite minimal lengths.
 * Enough for fixed profiles (the device leaf) where asn1js's object model costs more than the
 * signature itself.
 */
import { InvalidPkiInputError } from '../errors.js';

const headerLength = (length: number): number => (length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : 5);

/** Writes a tag and a minimal definite length at `offset`; returns the offset after the header. */
const writeHeader = (out: Uint8Array, offset: number, tag: number, length: number): number => {
  out[offset++] = tag;
  if (length < 0x80) {
    out[offset++] = length;
  } else if (length < 0x100) {
    out[offset++] = 0x81;
    out[offset++] = length;
  } else if (length < 0x10000) {
    out[offset++] = 0x82;
    out[offset++] = length >> 8;
    out[offset++] = length & 0xff;
  } else if (length < 0x1000000) {
    out[offset++] = 0x83;
    out[offset++] = length >> 16;
    out[offset++] = (length >> 8) & 0xff;
    out[offset++] = length & 0xff;
  } else {
    throw new InvalidPkiInputError('DER element too large', { length });
  }
  return offset;
};

/** tag || length || parts... as one fresh array. */
export const tlv = (tag: number, ...parts: readonly Uint8Array[]): Uint8Array => {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(headerLength(length) + length);
  let offset = writeHeader(out, 0, tag, length);
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};

const ascii = (text: string): Uint8Array => {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new InvalidPkiInputError('ASCII text expected', {});
    out[i] = c;
  }
  return out;
};

/** A primitive string-like TLV over ASCII text (IA5String, [6] URI, UTF8String of ASCII, times). */
export const asciiTlv = (tag: number, text: string): Uint8Array => tlv(tag, ascii(text));

const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * RFC 5280 4.1.2.5 time: UTCTime (YYMMDDHHMMSSZ) before 2050, GeneralizedTime (YYYYMMDDHHMMSSZ)
 * from 2050, whole seconds (the fraction is dropped, as `wholeSeconds` does).
 */
export const x509TimeDer = (date: Date): Uint8Array => {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new InvalidPkiInputError('invalid date', {});
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new InvalidPkiInputError('date outside the X.509 time range', { year });
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year < 2050 ? asciiTlv(0x17, `${two(year % 100)}${rest}`) : asciiTlv(0x18, `${year}${rest}`);
};

/** Hex constant -> bytes (for the fixed fragments of a profile). */
export const hexBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

/** Dotted OID -> OBJECT IDENTIFIER TLV (X.690 8.19: first two arcs packed, base-128 arcs). */
export const oidTlv = (dotted: string): Uint8Array => {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new InvalidPkiInputError('not a dotted OID', { oid: dotted });
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! >= 40n)) {
    throw new InvalidPkiInputError('not a valid OID', { oid: dotted });
  }
  const subids = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const out: number[] = [];
  for (const id of subids) {
    const chunk: number[] = [Number(id & 0x7fn)];
    for (let v = id >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, new Uint8Array(out));
};
