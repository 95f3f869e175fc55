import { certificateRejectionReasons } from '@tunnelkey/contracts';
import { CaError, type CaErrorContext } from '../errors.js';

export type CertificateRejectionReason = (typeof certificateRejectionReasons)[number];

/**
 * A certificate request the CA refuses. `reason` is the contract's machine-readable code (it goes
 * into CertificateRejected and the device's rejection message); `message` is for humans and never
 * echoes the CSR or a key.
 */
export class CertificateRefused extends CaError {
  override readonly name = 'CertificateRefused';
  readonly code = 'REJECTED';
  constructor(
    readonly reason: CertificateRejectionReason,
    message: string,
    context: CaErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, context, options);
  }
}

export const isCertificateRefused = (e: unknown): e is CertificateRefused => e instanceof CertificateRefused;
