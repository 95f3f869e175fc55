/**
 * Renewal on the device (rotate, then revoke): which of its TLS keys a target certificate
 * certifies, found by public key among the platform certificates it holds. A renewal brings a new
 * key generation with its own platform certificate, then connection parameters whose client
 * certificate is for that key; the old key stays derivable, and its certificates usable, until the
 * device has connected with the new one.
 */
import { parseCertificate, spkiEqual } from '@tunnelkey/pki';
import type { DeviceFlash } from './device-flash.js';

/** The key id whose platform certificate carries the same public key as `certificatePem`, if any. */
export function keyIdCertifiedBy(flash: Pick<DeviceFlash, 'certificates'>, certificatePem: string): string | undefined {
  let spki: Uint8Array;
  try {
    spki = parseCertificate(certificatePem).spki;
  } catch {
    return undefined;
  }
  // Newest generation first: a renewal's key is the one most recently certified.
  const entries = Object.entries(flash.certificates).reverse();
  for (const [keyId, stored] of entries) {
    try {
      if (spkiEqual(parseCertificate(stored.certificatePem).spki, spki)) return keyId;
    } catch {
      continue;
    }
  }
  return undefined;
}
