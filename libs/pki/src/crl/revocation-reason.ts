/** RFC 5280 5.3.1 CRLReason: names <-> codes, in one place. */
import { InvalidPkiInputError } from '../errors.js';

export const REVOCATION_REASON_CODES = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  // 7 is not used
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReason = keyof typeof REVOCATION_REASON_CODES;

const BY_CODE = new Map<number, RevocationReason>(
  Object.entries(REVOCATION_REASON_CODES).map(([name, code]) => [code, name as RevocationReason]),
);

export const isRevocationReason = (value: unknown): value is RevocationReason =>
  typeof value === 'string' && Object.prototype.hasOwnProperty.call(REVOCATION_REASON_CODES, value);

export const revocationReasonCode = (reason: RevocationReason): number => {
  if (!isRevocationReason(reason))
    throw new InvalidPkiInputError('unknown revocation reason', { reason: String(reason) });
  return REVOCATION_REASON_CODES[reason];
};

export const revocationReasonFromCode = (code: number): RevocationReason => {
  const reason = BY_CODE.get(code);
  if (!reason) throw new InvalidPkiInputError('unknown revocation reason code', { code });
  return reason;
};
