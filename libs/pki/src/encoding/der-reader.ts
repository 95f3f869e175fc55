/**
 * A minimal, strict DER reader: tag/length walking over a byte array with bounds checks, for the
 * few structures on the issuing hot path (PKCS#10, our own TBS). It refuses what DER forbids
 * (indefinite lengths, non-minimal lengths, high tag numbers we never use) instead of tolerating
 * BER the way asn1js does, and it never copies: elements are offsets into the input.
 */
import { MalformedPkiObjectError } from '../errors.js';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  CONTEXT_0: 0xa0,
} as const;

/** One TLV: `tag`, and where its header and contents lie in the reader's buffer. */
export interface DerElement {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the last content byte. */
  readonly end: number;
}

const fail = (what: string, message: string, context: Record<string, string | number> = {}): never => {
  throw new MalformedPkiObjectError(`${what}: ${message}`, { what, ...context });
};

/** Reads consecutive TLVs between `offset` and `limit` of `bytes`. */
export class DerReader {
  private offset: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
    start = 0,
    private readonly limit = bytes.length,
  ) {
    this.offset = start;
  }

  /** A reader over one constructed element's contents. */
  static inside(bytes: Uint8Array, element: DerElement, what: string): DerReader {
    return new DerReader(bytes, what, element.contentStart, element.end);
  }

  get done(): boolean {
    return this.offset >= this.limit;
  }

  /** The next TLV; throws on truncation, indefinite or non-minimal lengths, and high-tag-number form. */
  next(): DerElement {
    const b = this.bytes;
    const start = this.offset;
    if (start + 2 > this.limit) fail(this.what, 'truncated');
    const tag = b[start]!;
    if ((tag & 0x1f) === 0x1f) fail(this.what, 'high tag numbers are not supported', { tag });
    let length = b[start + 1]!;
    let contentStart = start + 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0) fail(this.what, 'indefinite length is not DER');
      if (count > 3) fail(this.what, 'length too large', { count });
      if (contentStart + count > this.limit) fail(this.what, 'truncated');
      length = 0;
      for (let i = 0; i < count; i++) length = (length << 8) | b[contentStart + i]!;
      // DER (X.690 10.1): the shortest form, so no leading zero octet and no long form below 128.
      if (length < 0x80 || b[contentStart] === 0) fail(this.what, 'non-minimal length encoding');
      contentStart += count;
    }
    const end = contentStart + length;
    if (end > this.limit) fail(this.what, 'truncated', { tag });
    // X.690 8.8.2: a NULL has no contents (asn1js reads one that has, and drops them on re-encoding).
    if (tag === TAG.NULL && length !== 0) fail(this.what, 'NULL with contents is not DER', { length });
    this.offset = end;
    return { tag, start, contentStart, end };
  }

  /** The next TLV, which must carry `tag`. */
  expect(tag: number, field: string): DerElement {
    if (this.done) fail(this.what, `${field} missing`);
    const e = this.next();
    if (e.tag !== tag) fail(this.what, `${field}: unexpected tag`, { expected: tag, tag: e.tag });
    return e;
  }

  /** The next TLV if it carries `tag`, else nothing (for OPTIONAL fields). */
  optional(tag: number): DerElement | undefined {
    if (this.done || this.bytes[this.offset] !== tag) return undefined;
    return this.next();
  }

  /** Every byte of the range must have been consumed. */
  end(field: string): void {
    if (this.offset !== this.limit) fail(this.what, `unexpected data after ${field}`);
  }
}

/** The whole TLV's bytes (a view, not a copy). */
export const elementBytes = (bytes: Uint8Array, e: DerElement): Uint8Array => bytes.subarray(e.start, e.end);

/** The contents' bytes (a view, not a copy). */
export const contentBytes = (bytes: Uint8Array, e: DerElement): Uint8Array => bytes.subarray(e.contentStart, e.end);

/** Reads exactly one top-level element spanning all of `bytes` (trailing bytes refused). */
export const readSingle = (bytes: Uint8Array, tag: number, what: string): DerElement => {
  const reader = new DerReader(bytes, what);
  const e = reader.expect(tag, what);
  if (!reader.done) {
    throw new MalformedPkiObjectError(`${what}: trailing bytes after the DER object`, { what, length: bytes.length });
  }
  return e;
};

/** OBJECT IDENTIFIER contents -> dotted string, strictly (minimal base-128 arcs, as DER requires). */
export const decodeOid = (content: Uint8Array, what: string): string => {
  if (content.length === 0) fail(what, 'empty OBJECT IDENTIFIER');
  if ((content[content.length - 1]! & 0x80) !== 0) fail(what, 'truncated OBJECT IDENTIFIER');
  const arcs: Array<number | bigint> = [];
  let value = 0;
  let big: bigint | undefined;
  let first = true;
  for (let i = 0; i < content.length; i++) {
    const byte = content[i]!;
    const startsArc = big === undefined && value === 0;
    if (startsArc && byte === 0x80) fail(what, 'non-minimal OBJECT IDENTIFIER arc');
    if (big !== undefined) big = (big << 7n) | BigInt(byte & 0x7f);
    else if (value >= 2 ** 45) big = (BigInt(value) << 7n) | BigInt(byte & 0x7f);
    else value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      const arc: number | bigint = big ?? value;
      if (first) {
        // X.690 8.19.4: the first subidentifier packs the first two arcs.
        if (typeof arc === 'bigint') arcs.push(2, arc - 80n);
        else if (arc < 40) arcs.push(0, arc);
        else if (arc < 80) arcs.push(1, arc - 40);
        else arcs.push(2, arc - 80);
        first = false;
      } else {
        arcs.push(arc);
      }
      value = 0;
      big = undefined;
    }
  }
  return arcs.join('.');
};

/** BOOLEAN contents, DER (X.690 11.1): one octet, 0x00 or 0xff. */
export const decodeBoolean = (content: Uint8Array, what: string): boolean => {
  if (content.length !== 1 || (content[0] !== 0x00 && content[0] !== 0xff)) fail(what, 'BOOLEAN is not DER');
  return content[0] === 0xff;
};

/** INTEGER contents must be minimal (X.690 8.3.2): no leading 0x00 before a clear top bit, no 0xff before a set one. */
export const checkInteger = (content: Uint8Array, what: string): void => {
  if (content.length === 0) fail(what, 'empty INTEGER');
  if (
    content.length > 1 &&
    ((content[0] === 0x00 && content[1]! < 0x80) || (content[0] === 0xff && content[1]! >= 0x80))
  ) {
    fail(what, 'non-minimal INTEGER');
  }
};

/** A small non-negative INTEGER (a path length, a version): minimal, < 2^31. */
export const decodeSmallUnsigned = (content: Uint8Array, what: string): number => {
  checkInteger(content, what);
  if (content[0]! & 0x80) fail(what, 'negative INTEGER');
  if (content.length > 4) fail(what, 'INTEGER too large');
  let n = 0;
  for (let i = 0; i < content.length; i++) n = n * 256 + content[i]!;
  return n;
};

const digits = (b: Uint8Array, from: number, count: number): number => {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
};

/**
 * RFC 5280 4.1.2.5 Time: UTCTime `YYMMDDHHMMSSZ` (YY >= 50 is 19YY) or GeneralizedTime
 * `YYYYMMDDHHMMSSZ`; whole seconds, Zulu, and a real calendar instant, nothing else.
 */
export const decodeTime = (bytes: Uint8Array, e: DerElement, what: string): Date => {
  const c = contentBytes(bytes, e);
  let year: number;
  let at: number;
  if (e.tag === TAG.UTC_TIME && c.length === 13) {
    const yy = digits(c, 0, 2);
    year = yy < 0 ? -1 : yy >= 50 ? 1900 + yy : 2000 + yy;
    at = 2;
  } else if (e.tag === TAG.GENERALIZED_TIME && c.length === 15) {
    year = digits(c, 0, 4);
    at = 4;
  } else {
    return fail(what, 'time is not an RFC 5280 UTCTime or GeneralizedTime', { tag: e.tag, length: c.length });
  }
  const month = digits(c, at, 2);
  const day = digits(c, at + 2, 2);
  const hour = digits(c, at + 4, 2);
  const minute = digits(c, at + 6, 2);
  const second = digits(c, at + 8, 2);
  const daysInMonth = month >= 1 && month <= 12 && year >= 0 ? new Date(Date.UTC(2000, month, 0)).getUTCDate() : 0;
  const leapFeb = month === 2 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
  if (
    year < 0 ||
    c[at + 10] !== 0x5a || // 'Z'
    day < 1 ||
    day > daysInMonth - (leapFeb ? 1 : 0) ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59
  ) {
    fail(what, 'invalid time', { tag: e.tag });
  }
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year);
  return date;
};
