/**
 * At start, before any CSR or revocation is taken: the root, an issuing CA for every owner the
 * registry knows, and each one's first CRL (created once across instances, adopted otherwise).
 */
import type { CertificateAuthority } from '../authority/certificate-authority.js';
import type { PublishCrlHandler } from '../publish-crl/publish-crl.handler.js';
import type { DeviceEligibilityView } from '../views/device-eligibility.view.js';

export async function ensureAuthoritiesAtStart(
  authority: CertificateAuthority,
  eligibility: DeviceEligibilityView,
  crls: PublishCrlHandler,
): Promise<true> {
  await authority.root();
  for (const ownerId of eligibility.owners())
    await crls.ensurePublished((await authority.issuingFor(ownerId)).authorityId);
  return true;
}
