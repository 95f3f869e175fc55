/**
 * Our own path validation for the shape we issue: leaf <- issuing CA(s) <- trusted root. It is a
 * profile check, not a general RFC 5280 path builder: names chain byte-for-byte, AKI matches SKI,
 * signatures verify, validity covers `at`, CA flags / keyCertSign / pathLen hold, no unknown
 * critical extension, the leaf has the purpose asked for, and optional CRLs do not list a serial.
 */
import { toHex } from '../encoding/bytes.js';
import { ChainVerificationError, type ChainFailureReason, SignatureVerificationError } from '../errors.js';
import type { KeyPurpose } from '../extensions/extended-key-usage.js';
import { sameName } from '../name-reader.js';
import { verifySignature } from '../signer/verify-signature.js';
import { type ParsedCrl, crlIssuerDer, findRevocation, verifyCrl } from '../crl/parse-crl.js';
import { parseCertificate, type ParsedCertificate } from './parse-certificate.js';

type CertInput = Uint8Array | string | ParsedCertificate;

export interface ChainVerificationRequest {
  leaf: CertInput;
  /** Issuing CA certificates, any order. */
  intermediates?: readonly CertInput[];
  /** The trust anchor. */
  root: CertInput;
  /** The instant to validate at: given by the caller, never read from a clock here. */
  at: Date;
  /** If set, the leaf must carry this extended key usage. */
  purpose?: KeyPurpose;
  /** CRLs to consult; each certificate whose issuer published one here is checked against it. */
  crls?: readonly ParsedCrl[];
}

export interface VerifiedChain {
  /** Leaf first, root last. */
  chain: readonly ParsedCertificate[];
}

const MAX_DEPTH = 6;

const asParsed = (c: CertInput): ParsedCertificate =>
  typeof c === 'string' || c instanceof Uint8Array ? parseCertificate(c) : c;

const fail = (reason: ChainFailureReason, message: string, cert: ParsedCertificate, depth: number): never => {
  throw new ChainVerificationError(reason, message, { depth, serial: cert.serialHex, subject: cert.subjectName });
};

/** Issuer name of `child` = subject name of `parent`, as pkijs compares names, from the DER. */
const namedBy = (child: ParsedCertificate, parent: ParsedCertificate): boolean =>
  sameName(child.issuerDer, parent.subjectDer);

const issuedBy = (child: ParsedCertificate, parent: ParsedCertificate): boolean => {
  if (!namedBy(child, parent)) return false;
  const aki = child.authorityKeyIdentifier?.keyId;
  const ski = parent.subjectKeyIdentifier?.keyId;
  return !aki || !ski || toHex(aki) === toHex(ski);
};

const verifyWithIssuerKey = async (
  child: ParsedCertificate,
  parent: ParsedCertificate,
  depth: number,
): Promise<void> => {
  let ok = false;
  try {
    ok = await verifySignature({
      spki: parent.spki,
      algorithmOid: child.signatureAlgorithmOid,
      data: child.tbsDer,
      signature: child.signature,
    });
  } catch (e) {
    throw new ChainVerificationError(
      'BAD_SIGNATURE',
      'signature cannot be checked',
      { depth, serial: child.serialHex },
      { cause: e },
    );
  }
  if (!ok) fail('BAD_SIGNATURE', 'certificate signature does not verify with its issuer key', child, depth);
};

// Signatures verified between CA certificates (issuing CA by root, root by itself): every leaf's
// chain repeats them. The key is every byte the check reads, verbatim from the two certificates'
// DER (the parent's SPKI, the child's TBS, algorithm and signature), so a hit is the same check.
// Only successes are kept, most recently used last.
const MAX_CACHED_CA_SIGNATURES = 256;
const verifiedCaSignatures = new Map<string, true>();

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
const caSignatureKey = (child: ParsedCertificate, parent: ParsedCertificate) =>
  [
    child.signatureAlgorithmOid,
    parent.spki.length,
    child.signature.length,
    latin1(parent.spki) + latin1(child.signature) + latin1(child.tbsDer),
  ].join(':');

const checkSignature = async (child: ParsedCertificate, parent: ParsedCertificate, depth: number): Promise<void> => {
  // A CA certificate (depth >= 1) is met again with every leaf under it; a leaf is not.
  const key = depth > 0 ? caSignatureKey(child, parent) : undefined;
  if (key !== undefined && verifiedCaSignatures.delete(key)) {
    verifiedCaSignatures.set(key, true);
    return;
  }
  await verifyWithIssuerKey(child, parent, depth);
  if (key !== undefined) {
    if (verifiedCaSignatures.size >= MAX_CACHED_CA_SIGNATURES)
      verifiedCaSignatures.delete(verifiedCaSignatures.keys().next().value!);
    verifiedCaSignatures.set(key, true);
  }
};

const checkCommon = (cert: ParsedCertificate, depth: number, at: Date): void => {
  if (at.getTime() < cert.notBefore.getTime()) fail('NOT_YET_VALID', 'certificate is not yet valid', cert, depth);
  if (at.getTime() > cert.notAfter.getTime()) fail('EXPIRED', 'certificate has expired', cert, depth);
  if (cert.unknownCriticalExtensions.length > 0) {
    fail(
      'UNKNOWN_CRITICAL_EXTENSION',
      `unknown critical extension ${cert.unknownCriticalExtensions.join(',')}`,
      cert,
      depth,
    );
  }
};

/** CA-specific checks for the certificate at `depth` (>= 1) with `caBelow` CA certificates under it. */
const checkCa = (cert: ParsedCertificate, depth: number, caBelow: number): void => {
  if (!cert.basicConstraints?.ca) fail('NOT_A_CA', 'issuer certificate is not a CA', cert, depth);
  if (cert.keyUsage && !cert.keyUsage.has('keyCertSign'))
    fail('KEY_USAGE', 'issuer may not sign certificates', cert, depth);
  const pathLength = cert.basicConstraints?.pathLength;
  if (pathLength !== undefined && caBelow > pathLength) {
    fail('PATH_LENGTH', `path length ${caBelow} exceeds the CA's limit ${pathLength}`, cert, depth);
  }
};

const checkRevocation = async (
  cert: ParsedCertificate,
  issuer: ParsedCertificate,
  depth: number,
  crls: readonly ParsedCrl[],
  at: Date,
): Promise<void> => {
  for (const crl of crls) {
    if (!sameName(crlIssuerDer(crl), cert.issuerDer)) continue;
    try {
      await verifyCrl(crl, issuer);
    } catch (e) {
      if (e instanceof SignatureVerificationError) {
        throw new ChainVerificationError(
          'BAD_CRL',
          'a CRL for this issuer does not verify',
          { depth, serial: cert.serialHex },
          { cause: e },
        );
      }
      throw e;
    }
    if (crl.nextUpdate && crl.nextUpdate.getTime() < at.getTime())
      fail('STALE_CRL', 'the CRL is past its nextUpdate', cert, depth);
    const entry = findRevocation(crl, cert.serialHex);
    if (entry && entry.revokedAt.getTime() <= at.getTime()) {
      throw new ChainVerificationError('REVOKED', 'certificate is revoked', {
        depth,
        serial: cert.serialHex,
        revocationReason: entry.reason,
        revokedAt: entry.revokedAt.toISOString(),
      });
    }
  }
};

export const verifyChain = (req: ChainVerificationRequest): Promise<VerifiedChain> => verifyPath(req, 'end-entity');

export interface CaChainVerificationRequest {
  /** The CA certificate to trust (e.g. an issuing CA a broker is to install). */
  certificate: CertInput;
  /** CA certificates between it and the root, any order. */
  intermediates?: readonly CertInput[];
  /** The trust anchor. */
  root: CertInput;
  /** The instant to validate at: given by the caller, never read from a clock here. */
  at: Date;
}

/**
 * The same path validation for a CA certificate instead of a leaf: it chains to `root` (names,
 * AKI/SKI, signatures, validity, CA flags, pathLen counting it as a CA below its issuers), and is
 * itself a CA allowed to sign certificates (basicConstraints CA, keyUsage with keyCertSign).
 */
export const verifyCaChain = (req: CaChainVerificationRequest): Promise<VerifiedChain> =>
  verifyPath({ leaf: req.certificate, root: req.root, at: req.at, intermediates: req.intermediates ?? [] }, 'ca');

const verifyPath = async (req: ChainVerificationRequest, leafRole: 'end-entity' | 'ca'): Promise<VerifiedChain> => {
  const leaf = asParsed(req.leaf);
  const root = asParsed(req.root);
  if (leafRole === 'ca') {
    if (!leaf.basicConstraints?.ca) fail('NOT_A_CA', 'certificate is not a CA', leaf, 0);
    if (!leaf.keyUsage?.has('keyCertSign')) fail('KEY_USAGE', 'CA certificate may not sign certificates', leaf, 0);
  }
  const pool = (req.intermediates ?? []).map(asParsed);
  const chain: ParsedCertificate[] = [leaf];

  // Build the path upwards by issuer name (+ AKI/SKI), ending at the trust anchor.
  let current = leaf;
  while (!issuedBy(current, root)) {
    if (chain.length > MAX_DEPTH) fail('ISSUER_MISMATCH', 'chain too long', current, chain.length - 1);
    const child = current;
    const parent = pool.find((p) => issuedBy(child, p) && !chain.includes(p));
    if (!parent) {
      // Same issuer name but another key id: a certificate from a different CA that reuses the name.
      const nameReused = [...pool, root].some((p) => namedBy(child, p));
      return fail(
        nameReused ? 'AKI_MISMATCH' : 'ISSUER_MISMATCH',
        'no certificate in the chain issued this one',
        child,
        chain.length - 1,
      );
    }
    chain.push(parent);
    current = parent;
  }
  chain.push(root);

  // Trust anchor: self-issued and self-signed, valid now.
  const rootDepth = chain.length - 1;
  if (!issuedBy(root, root)) fail('ROOT_NOT_SELF_SIGNED', 'trust anchor is not self-issued', root, rootDepth);
  await checkSignature(root, root, rootDepth).catch((e: unknown) => {
    if (e instanceof ChainVerificationError)
      fail('ROOT_NOT_SELF_SIGNED', 'trust anchor self-signature does not verify', root, rootDepth);
    throw e;
  });
  checkCommon(root, rootDepth, req.at);

  for (let depth = 0; depth < rootDepth; depth++) {
    const cert = chain[depth]!;
    const parent = chain[depth + 1]!;
    checkCommon(cert, depth, req.at);
    // certificates 1..depth below the parent are CAs (and the leaf too, when it is a CA)
    checkCa(parent, depth + 1, leafRole === 'ca' ? depth + 1 : depth);
    await checkSignature(cert, parent, depth);
    if (req.crls?.length) await checkRevocation(cert, parent, depth, req.crls, req.at);
  }

  if (leafRole === 'ca') return { chain };
  if (leaf.basicConstraints?.ca) fail('NOT_A_CA', 'leaf is a CA certificate, not an end entity', leaf, 0);
  if (leaf.keyUsage && !leaf.keyUsage.has('digitalSignature'))
    fail('KEY_USAGE', 'leaf may not sign (TLS client auth)', leaf, 0);
  if (req.purpose && !leaf.extendedKeyUsage?.has(req.purpose)) {
    fail('EXTENDED_KEY_USAGE', `leaf lacks extended key usage ${req.purpose}`, leaf, 0);
  }
  return { chain };
};
