/**
 * What onboarding takes from the CA's events is checked first, never trusted as it comes: an
 * issuing CA chain must verify under the pinned root (TRUSTED_ROOT_SHA256) and be the authority's
 * own certificate (AuthorityCreated) when that is known, before a device certificate under it is
 * given a target certificate.
 */
import { createHash } from 'node:crypto';
import {
  ChainVerificationError,
  derToPem,
  parseCertificate,
  pemBlocks,
  verifyCaChain,
  type ParsedCertificate,
} from '@tunnelkey/pki';
import { OnboardingConfigError } from '../errors.js';

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** `AB:CD:...` (openssl's form) or plain hex, any case -> 64 lower-case hex digits; anything else is refused. */
export function pinnedRootSha256Of(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const hex = raw.trim().replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new OnboardingConfigError(
      'TRUSTED_ROOT_SHA256 must be a SHA-256 fingerprint (64 hex digits, colons allowed)',
      {
        variable: 'TRUSTED_ROOT_SHA256',
      },
    );
  return hex;
}

/** SHA-256 of the first certificate's DER in a PEM text (undefined when it holds none that decodes). */
export function certificateFingerprintOf(pem: string): string | undefined {
  try {
    const block = pemBlocks(pem).find((b) => b.label === 'CERTIFICATE');
    return block ? sha256Hex(block.der) : undefined;
  } catch {
    return undefined;
  }
}

export type AnchorRefusal =
  | 'no-pinned-root'
  | 'malformed-chain'
  | 'root-not-pinned'
  | 'chain-does-not-verify'
  | 'not-the-created-authority';

export interface VerifiedAnchor {
  authorityId: string;
  /** The verified path, issuing CA first, root last, re-encoded from the DER that was verified. */
  chainPem: string[];
  issuing: ParsedCertificate;
  /** SHA-256 of the issuing CA certificate's DER. */
  fingerprintSha256: string;
}

export type AnchorCheck =
  | ({ ok: true } & VerifiedAnchor)
  | { ok: false; authorityId: string; reason: AnchorRefusal; detail: string; fingerprintSha256?: string };

export interface AnchorCheckInput {
  authorityId: string;
  /** As CertificateIssued carries it: issuing CA first, up to the root. */
  chainPem: readonly string[];
  /** Lower-case hex SHA-256 of the root certificate's DER; undefined: nothing can be verified. */
  pinnedRootSha256: string | undefined;
  /** The authority's certificate from its AuthorityCreated, when the CA's log has one. */
  createdCertificatePem?: string;
  at: Date;
}

/** Checks one issuing CA chain; never throws (a refusal says why, without any secret). */
export async function checkAnchor(input: AnchorCheckInput): Promise<AnchorCheck> {
  const { authorityId } = input;
  const refuse = (reason: AnchorRefusal, detail: string, fingerprintSha256?: string): AnchorCheck => ({
    ok: false,
    authorityId,
    reason,
    detail,
    ...(fingerprintSha256 ? { fingerprintSha256 } : {}),
  });
  if (!input.pinnedRootSha256)
    return refuse('no-pinned-root', 'no trusted root is pinned (TRUSTED_ROOT_SHA256): no CA chain can be verified');
  let certificates: ParsedCertificate[];
  try {
    const blocks = input.chainPem.flatMap((pem) => pemBlocks(pem));
    if (blocks.length === 0 || blocks.some((b) => b.label !== 'CERTIFICATE')) throw new Error('not certificates');
    certificates = blocks.map((b) => parseCertificate(b.der));
  } catch {
    return refuse('malformed-chain', 'the chain is not a list of PEM certificates');
  }
  const [issuing, ...rest] = certificates as [ParsedCertificate, ...ParsedCertificate[]];
  const fingerprintSha256 = sha256Hex(issuing.der);
  const root = rest.find((c) => sha256Hex(c.der) === input.pinnedRootSha256);
  if (!root) return refuse('root-not-pinned', 'the chain does not end at the pinned root', fingerprintSha256);
  if (rest.at(-1) !== root)
    return refuse('chain-does-not-verify', "the pinned root is not the chain's last certificate", fingerprintSha256);
  const intermediates = rest.slice(0, -1);
  let path: readonly ParsedCertificate[];
  try {
    path = (await verifyCaChain({ certificate: issuing, intermediates, root, at: input.at })).chain;
  } catch (error) {
    if (error instanceof ChainVerificationError)
      return refuse('chain-does-not-verify', `${error.reason}: ${error.message}`, fingerprintSha256);
    return refuse('malformed-chain', 'the chain cannot be checked', fingerprintSha256);
  }
  // Every certificate given must be on the verified path.
  if (path.length !== certificates.length)
    return refuse('chain-does-not-verify', 'the chain carries certificates off its verified path', fingerprintSha256);
  if (
    input.createdCertificatePem !== undefined &&
    certificateFingerprintOf(input.createdCertificatePem) !== fingerprintSha256
  )
    return refuse(
      'not-the-created-authority',
      'the issuing CA is not the certificate the authority was created with (AuthorityCreated)',
      fingerprintSha256,
    );
  return {
    ok: true,
    authorityId,
    chainPem: path.map((c) => derToPem(c.der, 'CERTIFICATE')),
    issuing,
    fingerprintSha256,
  };
}
