import { readFileSync } from 'node:fs';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';

/** The ML-KEM-768 implementation the wrap relies on, against an independent one (OpenSSL 4.0, recorded). */
describe('ML-KEM-768 (FIPS 203) against OpenSSL', () => {
  const v = JSON.parse(readFileSync(new URL('./fixtures/ml-kem-768-openssl.json', import.meta.url), 'utf8')) as {
    seed: string;
    encapsulationKey: string;
    cipherText: string;
    sharedSecret: string;
  };
  const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
  const { publicKey, secretKey } = ml_kem768.keygen(hex(v.seed));

  it('derives the same encapsulation key from the same 64-byte seed', () => {
    expect(Buffer.from(publicKey).toString('hex')).toBe(v.encapsulationKey);
  });

  it("decapsulates OpenSSL's ciphertext to OpenSSL's shared secret, and a flipped one to another", () => {
    expect(Buffer.from(ml_kem768.decapsulate(hex(v.cipherText), secretKey.slice())).toString('hex')).toBe(
      v.sharedSecret,
    );
    const flipped = hex(v.cipherText);
    flipped[0]! ^= 1;
    expect(Buffer.from(ml_kem768.decapsulate(flipped, secretKey.slice())).toString('hex')).not.toBe(v.sharedSecret);
  });
});
