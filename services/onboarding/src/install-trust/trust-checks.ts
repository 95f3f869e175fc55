/**
 * What onboarding installs on a target is checked first, never taken from an event as it comes:
 * an issuing CA chain must verify under the pinned root (TRUSTED_ROOT_SHA256) and be the
 * authority's own certificate (AuthorityCreated) when that is known; a CRL must be signed by the
 * verified issuing CA, carry the number it is announced with, and never go back.
 */
import { createHash } from 'node:crypto';
import {
  ChainVerificationError,
  derToPem,
  parseCertificate,
  parseCrl,
  pemBlocks,
  SignatureVerificationError,
  verifyCaChain,
  verifyCrl,
  type ParsedCertificate,
} from '@tunnelkey/pki';
import { OnboardingConfigError } from '../errors.js';
import type { RevocationList } from '../target-port/onboarding-target.js';

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
  // Every certificate given must be on the verified path: nothing else reaches the broker's CA file.
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

export type CrlRefusal =
  | 'malformed-crl'
  | 'bad-crl-signature'
  | 'crl-number-mismatch'
  | 'crl-number-went-down'
  | 'crl-number-reused';

/** The CRL an issuer last had installed: a new one may not go below it, nor reuse its number with other bytes. */
export interface CrlFloor {
  crlNumber: number;
  /** SHA-256 of its DER, when known. */
  crlDigest?: string;
}

export type CrlCheck =
  | { ok: true; crl: RevocationList; crlDigest: string; unchanged: boolean }
  | { ok: false; authorityId: string; crlNumber: number; reason: CrlRefusal; detail: string };

/** Checks a CRL against its verified issuing CA and the floor; never throws. */
export async function checkCrl(input: {
  crl: RevocationList;
  issuing: ParsedCertificate;
  floor?: CrlFloor;
}): Promise<CrlCheck> {
  const { authorityId, crlNumber } = input.crl;
  const refuse = (reason: CrlRefusal, detail: string): CrlCheck => ({
    ok: false,
    authorityId,
    crlNumber,
    reason,
    detail,
  });
  let parsed: ReturnType<typeof parseCrl>;
  try {
    const blocks = pemBlocks(input.crl.crlPem);
    if (blocks.length !== 1 || blocks[0]!.label !== 'X509 CRL') throw new Error('one CRL expected');
    parsed = parseCrl(blocks[0]!.der);
  } catch {
    return refuse('malformed-crl', 'not one PEM CRL');
  }
  try {
    await verifyCrl(parsed, input.issuing);
  } catch (error) {
    if (error instanceof SignatureVerificationError) return refuse('bad-crl-signature', error.message);
    return refuse('malformed-crl', 'the CRL cannot be checked');
  }
  if (parsed.crlNumber === undefined || parsed.crlNumber !== BigInt(crlNumber))
    return refuse('crl-number-mismatch', `the CRL's own number is ${parsed.crlNumber ?? 'missing'}`);
  const crlDigest = sha256Hex(parsed.der);
  const floor = input.floor;
  if (floor && crlNumber < floor.crlNumber)
    return refuse('crl-number-went-down', `CRL ${crlNumber} is older than CRL ${floor.crlNumber} already installed`);
  if (floor && crlNumber === floor.crlNumber && floor.crlDigest !== undefined && floor.crlDigest !== crlDigest)
    return refuse('crl-number-reused', `another CRL numbered ${crlNumber} is already installed`);
  return {
    ok: true,
    crl: { authorityId, crlNumber, crlPem: derToPem(parsed.der, 'X509 CRL') },
    crlDigest,
    unchanged: floor !== undefined && crlNumber === floor.crlNumber,
  };
}
