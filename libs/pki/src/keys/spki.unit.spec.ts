import { generateKeyPairSync } from 'node:crypto';
import { MalformedPkiObjectError, UnsupportedAlgorithmError } from '../errors.js';
import { parseEcSpki, spkiEqual } from './spki.js';

const spkiOf = (type: 'ec' | 'rsa' | 'ed25519', namedCurve?: string) =>
  new Uint8Array(
    (type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: namedCurve! })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 1024 })
        : generateKeyPairSync('ed25519')
    ).publicKey.export({ type: 'spki', format: 'der' }),
  );

describe('parseEcSpki', () => {
  it('reads P-256 and P-384 keys', () => {
    expect(parseEcSpki(spkiOf('ec', 'P-256')).namedCurve).toBe('P-256');
    const p384 = spkiOf('ec', 'P-384');
    expect(parseEcSpki(p384)).toMatchObject({ namedCurve: 'P-384', spki: p384 });
    expect(parseEcSpki(p384).publicKey).toHaveLength(97);
  });

  it('refuses other algorithms and curves as unsupported', () => {
    expect(() => parseEcSpki(spkiOf('rsa'))).toThrow(UnsupportedAlgorithmError);
    expect(() => parseEcSpki(spkiOf('ed25519'))).toThrow(UnsupportedAlgorithmError);
    expect(() => parseEcSpki(spkiOf('ec', 'secp256k1'))).toThrow(UnsupportedAlgorithmError);
  });

  it('refuses compressed points, non-DER lengths, trailing bytes and truncation as malformed', () => {
    const good = spkiOf('ec', 'P-256');
    const compressed = new Uint8Array(
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
    );
    // Rewrite the point as compressed (02/03 || X): a valid SPKI shape we still refuse.
    const x = compressed.subarray(27, 59);
    const c = new Uint8Array([0x30, 0x39, ...compressed.subarray(2, 23), 0x03, 0x22, 0x00, 0x02, ...x]);
    expect(() => parseEcSpki(c)).toThrow(MalformedPkiObjectError);
    const longForm = new Uint8Array([0x30, 0x81, 0x59, ...good.subarray(2)]);
    expect(() => parseEcSpki(longForm)).toThrow(/non-minimal/);
    expect(() => parseEcSpki(new Uint8Array([...good, 0]))).toThrow(MalformedPkiObjectError);
    for (let n = 0; n < good.length; n++)
      expect(() => parseEcSpki(good.subarray(0, n))).toThrow(MalformedPkiObjectError);
    const innerLength = good.slice();
    innerLength[3] = 0x12; // AlgorithmIdentifier one byte short: asn1js would let this through
    expect(() => parseEcSpki(innerLength)).toThrow(MalformedPkiObjectError);
  });

  it('spkiEqual compares keys, not encodings', () => {
    const a = spkiOf('ec', 'P-256');
    expect(spkiEqual(a, a.slice())).toBe(true);
    expect(spkiEqual(a, spkiOf('ec', 'P-256'))).toBe(false);
  });
});
