import { createECDH, hkdfSync, webcrypto } from 'node:crypto';
import { p256SpkiFromPoint } from './device-identity.js';
import { KemKeyContext, KeyContext, keyAlgorithmOf, keyContextLabel } from './key-context.js';

type CryptoKey = webcrypto.CryptoKey;

/** Order n of the P-256 base point. */
export const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
export const CONTEXT_SECRET_LENGTH = 32;

const CONTEXT_SALT = Buffer.from('tunnelkey/puf/contexts/v1');
const SCALAR_INFO = Buffer.from('tunnelkey/puf/p256-scalar/v1');

/** 256-bit secret for one context: HKDF-SHA-256(root, label). Independent across labels. */
export function deriveContextSecret(rootSecret: Uint8Array, context: KeyContext | KemKeyContext): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', rootSecret, CONTEXT_SALT, keyContextLabel(context), CONTEXT_SECRET_LENGTH));
}

/**
 * Deterministic P-256 private scalar in [1, n-1] from a context secret. Expands to 384 bits
 * before reducing mod (n - 1) so the modulo bias is ~2^-128 (FIPS 186-5 A.2.1 style).
 */
export function p256ScalarFromSecret(contextSecret: Uint8Array): Buffer {
  const wide = Buffer.from(hkdfSync('sha256', contextSecret, Buffer.alloc(0), SCALAR_INFO, 48));
  const d = (BigInt(`0x${wide.toString('hex')}`) % (P256_ORDER - 1n)) + 1n;
  wide.fill(0);
  return Buffer.from(d.toString(16).padStart(64, '0'), 'hex');
}

export interface DerivedKeyPair {
  readonly context: KeyContext;
  readonly algorithm: 'ECDSA' | 'ECDH';
  /** Non-extractable WebCrypto key: usable for sign/deriveBits, never exportable. */
  readonly privateKey: CryptoKey;
  /**
   * SubjectPublicKeyInfo DER of the public key (what CSRs and the registry carry). The public half
   * is not imported as a CryptoKey: no device operation needs it, and the import would add ~0.1 ms
   * to every derivation (~9 % of a TLS key's reconstruction); `importPublicKey` does it on demand.
   */
  readonly publicKeySpki: Uint8Array;
}

/** Public point (uncompressed, 65 bytes) of a scalar via node's ECDH. */
export function p256PublicPoint(scalar: Uint8Array): Buffer {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(scalar);
  return ecdh.getPublicKey();
}

const p256Params = (algorithm: DerivedKeyPair['algorithm']): webcrypto.EcKeyImportParams => ({
  name: algorithm,
  namedCurve: 'P-256',
});

/**
 * P-256 key pair for a context from its secret. The scalar exists only in short-lived buffers,
 * wiped after WebCrypto imports it as a non-extractable key.
 */
export async function deriveP256KeyPair(contextSecret: Uint8Array, context: KeyContext): Promise<DerivedKeyPair> {
  const algorithm = keyAlgorithmOf(context);
  const scalar = p256ScalarFromSecret(contextSecret);
  const point = p256PublicPoint(scalar);
  const x = point.subarray(1, 33).toString('base64url');
  const y = point.subarray(33, 65).toString('base64url');
  const jwk: webcrypto.JsonWebKey = { kty: 'EC', crv: 'P-256', x, y, d: scalar.toString('base64url') };
  scalar.fill(0);
  try {
    const privateKey = await webcrypto.subtle.importKey(
      'jwk',
      jwk,
      p256Params(algorithm),
      false,
      algorithm === 'ECDSA' ? ['sign'] : ['deriveBits', 'deriveKey'],
    );
    return { context, algorithm, privateKey, publicKeySpki: p256SpkiFromPoint(point) };
  } finally {
    jwk.d = undefined;
  }
}

/** The public half of a derived pair as a WebCrypto key (ECDSA: verify; ECDH: the peer key of a deriveBits). */
export function importPublicKey(pair: Pick<DerivedKeyPair, 'algorithm' | 'publicKeySpki'>): Promise<CryptoKey> {
  return webcrypto.subtle.importKey(
    'spki',
    pair.publicKeySpki,
    p256Params(pair.algorithm),
    true,
    pair.algorithm === 'ECDSA' ? ['verify'] : [],
  );
}

/** Just the public key (SPKI DER) of a context: no WebCrypto import, for identity checks and analysis. */
export function deriveP256PublicKeySpki(contextSecret: Uint8Array): Uint8Array {
  const scalar = p256ScalarFromSecret(contextSecret);
  const point = p256PublicPoint(scalar);
  scalar.fill(0);
  return p256SpkiFromPoint(point);
}
