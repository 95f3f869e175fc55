import { MalformedPkiObjectError } from '../errors.js';
import { derToPem, pemBlocks, pemToDer } from './pem.js';

describe('PEM <-> DER', () => {
  const der = new Uint8Array(Array.from({ length: 100 }, (_, i) => i));

  it('writes 64-column RFC 7468 PEM and reads it back', () => {
    const pem = derToPem(der, 'CERTIFICATE');
    const lines = pem.trim().split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines.at(-1)).toBe('-----END CERTIFICATE-----');
    expect(lines[1]!.length).toBe(64);
    expect(pemToDer(pem, 'CERTIFICATE')).toEqual(der);
    expect(pemToDer(pem.replace(/\n/g, '\r\n'), 'CERTIFICATE')).toEqual(der);
  });

  it('reads several blocks in order (a chain file) and picks by label', () => {
    const text = derToPem(der.subarray(0, 10), 'CERTIFICATE') + 'junk\n' + derToPem(der.subarray(10, 30), 'X509 CRL');
    expect(pemBlocks(text).map((b) => [b.label, b.der.length])).toEqual([
      ['CERTIFICATE', 10],
      ['X509 CRL', 20],
    ]);
    expect(pemToDer(text, 'X509 CRL')).toEqual(der.subarray(10, 30));
  });

  it('refuses a missing label and a corrupt body', () => {
    expect(() => pemToDer(derToPem(der, 'CERTIFICATE'), 'CERTIFICATE REQUEST')).toThrow(MalformedPkiObjectError);
    expect(() => pemToDer('-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n', 'CERTIFICATE')).toThrow(
      MalformedPkiObjectError,
    );
  });
});
