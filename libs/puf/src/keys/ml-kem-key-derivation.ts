import { hkdfSync } from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { FIRMWARE_KEM_CONTEXT, KemKeyContext } from './key-context.js';

const SEED_INFO = Buffer.from('tunnelkey/puf/ml-kem-768-seed/v1');
export const ML_KEM_768_PUBLIC_KEY_BYTES = 1184;

/**
 * A device's ML-KEM-768 key pair (FIPS 203), regenerated from its PUF on demand. The decapsulation
 * key never leaves this object: callers get the encapsulation (public) key and a `decapsulate`
 * function, the way P-256 keys come out as non-extractable CryptoKeys. `dispose` wipes it.
 */
export interface DerivedKemKeyPair {
  readonly context: KemKeyContext;
  readonly algorithm: 'ML-KEM-768';
  /** The 1,184-byte encapsulation key: what the platform wraps content keys against. */
  readonly publicKey: Uint8Array;
  /** ML-KEM.Decaps: never fails (a foreign ciphertext gives an unrelated secret, FIPS 203 implicit rejection). */
  decapsulate(cipherText: Uint8Array): Uint8Array;
  /** Wipes the decapsulation key; decapsulate throws afterwards. */
  dispose(): void;
}

/**
 * Deterministic ML-KEM-768 pair from a context secret: the 64-byte seed (d || z) of
 * ML-KEM.KeyGen_internal is HKDF-SHA-256(contextSecret, info = SEED_INFO), wiped after use.
 */
export function deriveMlKemKeyPair(
  contextSecret: Uint8Array,
  context: KemKeyContext = FIRMWARE_KEM_CONTEXT,
): DerivedKemKeyPair {
  const seed = new Uint8Array(hkdfSync('sha256', contextSecret, Buffer.alloc(0), SEED_INFO, 64));
  const { publicKey, secretKey } = ml_kem768.keygen(seed);
  seed.fill(0);
  let disposed = false;
  return {
    context,
    algorithm: 'ML-KEM-768',
    publicKey,
    decapsulate(cipherText) {
      if (disposed) throw new Error('ML-KEM key was disposed');
      // noble wipes the key it decodes; hand it a copy so the pair stays usable.
      return ml_kem768.decapsulate(cipherText, secretKey.slice());
    },
    dispose() {
      disposed = true;
      secretKey.fill(0);
    },
  };
}
