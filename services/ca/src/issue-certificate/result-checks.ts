/**
 * Result checks (smallstep's "validate the result"), independent of the encoder that built the
 * certificate: OpenSSL (node's X509Certificate) parses what we signed and each check looks at one
 * property. The issuing CA's own chain was checked when it was loaded, so the signature check
 * only needs its key. (A pkijs re-parse here cost ~11 ms per certificate and capped issuance at ~50/s.)
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { deviceUri } from '@tunnelkey/pki';
import type { IssuanceContext } from './issuance-request.js';

export interface SignedCertificate {
  x509: X509Certificate;
  ctx: IssuanceContext;
  /** The issuing CA's public key. */
  issuerKey: KeyObject;
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
    holds: ({ x509, ctx }) => x509.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from(ctx.csr!.spki)),
  },
  { name: 'subject', holds: ({ x509, ctx }) => x509.subject === `CN=${ctx.request.deviceId}` },
  {
    name: 'SAN URI',
    holds: ({ x509, ctx }) =>
      (x509.subjectAltName ?? '').split(', ').includes(`URI:${deviceUri(ctx.request.deviceId)}`),
  },
  { name: 'extended key usage', holds: ({ x509 }) => (x509.keyUsage ?? []).includes(clientAuthOid) },
  { name: 'signature', holds: ({ x509, issuerKey }) => x509.verify(issuerKey) },
];

/** The names of the checks the certificate fails (none when it is fine). */
export const failedChecks = (signed: SignedCertificate, checks = resultChecks): string[] =>
  checks.filter((check) => !check.holds(signed)).map((check) => check.name);
