import * as asn1js from 'asn1js';
import { MalformedPkiObjectError } from '../errors.js';
import { decodeOid, DerReader, readSingle } from './der-reader.js';
import { oidTlv, tlv, x509TimeDer } from './der-writer.js';
import { x509Time } from './der.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

describe('minimal DER writer', () => {
  it('writes minimal lengths in every form', () => {
    expect(hex(tlv(0x04))).toBe('0400');
    expect(hex(tlv(0x04, new Uint8Array(127))).slice(0, 4)).toBe('047f');
    expect(hex(tlv(0x04, new Uint8Array(128))).slice(0, 6)).toBe('048180');
    expect(hex(tlv(0x04, new Uint8Array(255))).slice(0, 6)).toBe('0481ff');
    expect(hex(tlv(0x04, new Uint8Array(256))).slice(0, 8)).toBe('04820100');
    expect(hex(tlv(0x04, new Uint8Array(70000))).slice(0, 10)).toBe('0483011170');
  });

  it('OIDs: known answers and agreement with asn1js, including arcs beyond 2^53', () => {
    expect(hex(oidTlv('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(oidTlv('2.5.29.17'))).toBe('0603551d11');
    for (const oid of [
      '0.9.2342.19200300.100.1.25',
      '2.999.3',
      '1.3.6.1.4.1.311.21.20',
      '2.25.329800735698586629295641978511506172918',
    ]) {
      expect(hex(oidTlv(oid))).toBe(hex(new Uint8Array(new asn1js.ObjectIdentifier({ value: oid }).toBER(false))));
      const content = oidTlv(oid).subarray(2);
      expect(decodeOid(content, 'test')).toBe(oid);
    }
  });

  it('X.509 times agree with the pkijs/asn1js encoding', () => {
    for (const iso of [
      '1950-01-01T00:00:00Z',
      '1999-12-31T23:59:59.999Z',
      '2026-02-03T04:05:06Z',
      '2049-12-31T23:59:59Z',
      '2050-01-01T00:00:00Z',
      '2123-11-30T10:20:30.400Z',
    ]) {
      const d = new Date(iso);
      expect(hex(x509TimeDer(d))).toBe(hex(new Uint8Array(x509Time(d).toSchema().toBER(false))));
    }
  });
});

describe('strict DER reader', () => {
  it('walks nested TLVs and refuses data after the last expected field', () => {
    const der = bytes('30050201010500');
    const seq = DerReader.inside(der, readSingle(der, 0x30, 'T'), 'T');
    expect(seq.expect(0x02, 'a').end).toBe(5);
    expect(seq.optional(0x02)).toBeUndefined();
    expect(() => seq.end('a')).toThrow(/unexpected data after a/);
  });

  it.each([
    ['indefinite length', '3080020100' + '0000', /indefinite/],
    ['long form below 128', '30810302010a', /non-minimal/],
    ['leading zero length octet', '3082000302010a', /non-minimal/],
    ['length beyond the input', '3005020100', /truncated/],
    ['child beyond its parent', '3003020201', /truncated/],
    ['high tag number form', '3f0100', /high tag/],
    ['trailing bytes', '300302010a00', /trailing/],
    ['four length octets', '308400000003020100', /too large/],
  ])('refuses %s', (_, h, message) => {
    expect(() => {
      const der = bytes(h);
      const outer = readSingle(der, der[0]!, 'T');
      const inner = DerReader.inside(der, outer, 'T');
      while (!inner.done) inner.next();
    }).toThrow(message);
  });

  it('refuses non-minimal and truncated OID arcs', () => {
    expect(() => decodeOid(bytes('2a80'), 'T')).toThrow(MalformedPkiObjectError);
    expect(() => decodeOid(bytes('2a8001'), 'T')).toThrow(/non-minimal/);
    expect(() => decodeOid(bytes(''), 'T')).toThrow(/empty/);
  });
});
