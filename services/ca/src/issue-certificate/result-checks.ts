/**
 * Result checks (smallstep's "validate the result"): what was signed is read back, with the DER
 * parser rather than the encoder that built it, and each check looks at one property the request
 * asked for (key, names, usage). The signature is not verified again: the CA signed it a moment
 * ago with its own key, and a verify was the most expensive step here (~0.08 ms of the ~0.13 ms
 * per certificate on Node 20, measured in `npm run bench:provision`); a signer that produced a
 * wrong signature is caught by the tests, which check issued certificates with the openssl CLI,
 * and by every device, which verifies its certificate's chain before it keeps it.
 */
import { deviceUri, type ParsedCertificate } from '@tunnelkey/pki';
import type { IssuanceContext } from './issuance-request.js';

export interface SignedCertificate {
  certificate: ParsedCertificate;
  ctx: IssuanceContext;
}

export interface ResultCheck {
  /** Names the property in the error when it does not hold. */
  readonly name: string;
  holds(signed: SignedCertificate): boolean;
}

const clientAuthOid = '1.3.6.1.5.5.7.3.2';

export const resultChecks: readonly ResultCheck[] = [
  {
    name: 'public key',
    holds: ({ certificate, ctx }) => Buffer.from(certificate.spki).equals(Buffer.from(ctx.csr!.spki)),
  },
  { name: 'subject', holds: ({ certificate, ctx }) => certificate.subjectName === `CN=${ctx.request.deviceId}` },
  {
    name: 'SAN URI',
    holds: ({ certificate, ctx }) =>
      certificate.subjectAltName?.uris.includes(deviceUri(ctx.request.deviceId)) ?? false,
  },
  {
    name: 'extended key usage',
    holds: ({ certificate }) => certificate.extendedKeyUsage?.purposeOids.includes(clientAuthOid) ?? false,
  },
];

/** The names of the checks the certificate fails (none when it is fine). */
export const failedChecks = (signed: SignedCertificate, checks = resultChecks): string[] =>
  checks.filter((check) => !check.holds(signed)).map((check) => check.name);
