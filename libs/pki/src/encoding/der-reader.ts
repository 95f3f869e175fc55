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
