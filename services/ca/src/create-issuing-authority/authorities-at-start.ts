/**
 * At start, before any CSR or revocation is taken: each known owner's issuing CA that the ceremony
 * has signed, loaded with its key, and its first CRL (published once across instances, adopted
 * otherwise). Nothing is created: the root's key is not read (it is not online), and an owner
 * without an issuing CA stays without one (its certification is refused until the ceremony runs).
 */
import type { Logger } from 'pino';
import type { CertificateAuthority } from '../authority/certificate-authority.js';
import type { PublishCrlHandler } from '../publish-crl/publish-crl.handler.js';
import type { DeviceEligibilityView } from '../views/device-eligibility.view.js';

export async function ensureAuthoritiesAtStart(
  authority: CertificateAuthority,
  eligibility: DeviceEligibilityView,
  crls: PublishCrlHandler,
  logger?: Logger,
): Promise<true> {
  for (const ownerId of eligibility.owners()) {
    if (!(await authority.hasIssuing(ownerId))) {
      logger?.warn(
        { event: 'ca.no_issuing_authority', ownerId },
        'owner has no issuing CA: its certification is refused until the ceremony signs one',
      );
      continue;
    }
    await crls.ensurePublished((await authority.issuingFor(ownerId)).authorityId);
  }
  return true;
}
