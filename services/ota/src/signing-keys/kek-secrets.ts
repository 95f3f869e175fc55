/**
 * Secrets derived, not stored: 32 bytes computed from the OTA KEK and a label, the same on every
 * instance and after every restart, unrelated for another label, and nothing without the KEK.
 * The construction is libs/pki's deriveP256SignerUnderKek's (the KEK, a non-extractable AES-GCM
 * key, used as a PRF over 32 zero bytes with an IV drawn from the label, expanded by HKDF-SHA-256),
 * under its own domain. The OTA service derives from it the ML-DSA-65 keygen seed of each signing
 * key generation and each rollout's AES-256-GCM content key.
 */
import { createHash, hkdfSync, webcrypto } from 'node:crypto';
import type { Kek } from '@tunnelkey/pki';

const ivDomain = 'tunnelkey/ota/kek-secret/v1\u0000';
const hkdfSalt = 'tunnelkey/ota/kek-secret/v1';

export async function deriveSecretUnderKek(kek: Kek, label: string): Promise<Uint8Array> {
  const iv = createHash('sha256').update(ivDomain).update(label).digest().subarray(0, 12);
  const block = new Uint8Array(await webcrypto.subtle.encrypt({ name: 'AES-GCM', iv }, kek.key, new Uint8Array(32)));
  try {
    return new Uint8Array(hkdfSync('sha256', block.subarray(0, 32), hkdfSalt, label, 32));
  } finally {
    block.fill(0);
  }
}

/** The content key of one rollout: fresh per rollout (its id is unique), re-derivable after a restart. */
export const rolloutContentKey = (kek: Kek, rolloutId: string): Promise<Uint8Array> =>
  deriveSecretUnderKek(kek, `ota/rollout-content-key/${rolloutId}`);
