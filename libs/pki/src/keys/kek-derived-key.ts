/**
 * A CA key that is derived, not stored: a P-256 signing key computed from the KEK and a label
 * (e.g. an onboarding target's id). The same KEK and label give the same key on every instance
 * and after every restart; another label gives an unrelated key; without the KEK nothing of it can
 * be computed. Like the device keys derived from a PUF, there is nothing to wrap, store or leak.
 *
 * The KEK is a non-extractable AES-GCM key, so it is used as a PRF: AES-GCM over 32 zero bytes
 * with an IV drawn from the label yields 32 pseudorandom bytes (AES-CTR keystream under the KEK),
 * which HKDF-SHA-256 expands to 384 bits before reducing mod (n - 1): a scalar in [1, n - 1] with
 * a bias of about 2^-128. Reusing an IV is harmless here: the plaintext is constant and the
 * output is never used to encrypt anything.
 */
import { createECDH, createHash, hkdfSync } from 'node:crypto';
import { subtle } from '../engine.js';
import { InvalidPkiInputError } from '../errors.js';
import { WebCryptoSigner, exportSpki } from '../signer/webcrypto-signer.js';
import type { Kek } from './kek.js';

/** Order n of the P-256 base point. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const IV_DOMAIN = 'tunnelkey/kek-derived-key/v1\u0000';
const HKDF_SALT = 'tunnelkey/kek-derived-key/p256/v1';

/** The signer of the P-256 key derived from `kek` for `label` (its private half non-extractable). */
export async function deriveP256SignerUnderKek(kek: Kek, label: string): Promise<WebCryptoSigner> {
  if (label.length === 0 || label.length > 256)
    throw new InvalidPkiInputError('a derived key needs a label of 1 to 256 characters', { length: label.length });
  const iv = createHash('sha256').update(IV_DOMAIN).update(label).digest().subarray(0, 12);
  const block = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, kek.key, new Uint8Array(32)));
  const wide = Buffer.from(hkdfSync('sha256', block.subarray(0, 32), HKDF_SALT, label, 48));
  block.fill(0);
  const d = (BigInt(`0x${wide.toString('hex')}`) % (P256_ORDER - 1n)) + 1n;
  wide.fill(0);
  const scalar = Buffer.from(d.toString(16).padStart(64, '0'), 'hex');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(scalar);
  const point = ecdh.getPublicKey();
  const x = point.subarray(1, 33).toString('base64url');
  const y = point.subarray(33, 65).toString('base64url');
  const jwk = { kty: 'EC', crv: 'P-256', x, y, d: scalar.toString('base64url') };
  scalar.fill(0);
  try {
    const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
    const privateKey = await subtle.importKey('jwk', jwk, algorithm, false, ['sign']);
    const publicKey = await subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x, y }, algorithm, true, ['verify']);
    return await WebCryptoSigner.create(privateKey, await exportSpki(publicKey));
  } finally {
    jwk.d = '';
  }
}
