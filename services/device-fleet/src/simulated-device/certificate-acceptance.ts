import { parseCertificate, spkiEqual, verifyChain, type ParsedCertificate } from '@tunnelkey/pki';
import type { PendingCsr, StoredCertificate } from './device-flash.js';

export type CertificateRefusal =
  | 'unrequested-certificate'
  | 'malformed-certificate'
  | 'certificate-key-mismatch'
  | 'certificate-subject-mismatch'
  | 'certificate-chain-invalid';

export type CertificateVerdict =
  | { accepted: true; keyId: string; certificate: StoredCertificate }
  | { accepted: false; reason: CertificateRefusal };

export interface DeliveredCertificate {
  requestId: string;
  serialNumber: string;
  certificatePem: string;
  chainPem: string[];
}

const selfIssued = (c: ParsedCertificate) => c.subject.isEqual(c.issuer);

/**
 * The chain (issuing CA, root) is the same for every device of an owner: parsed once per process,
 * not once per delivered certificate (a parse costs milliseconds; a fleet receives thousands).
 */
const parsedChainCertificates = new Map<string, ParsedCertificate>();
const maxCachedChainCertificates = 64;

function parseChainCertificate(pem: string): ParsedCertificate {
  let parsed = parsedChainCertificates.get(pem);
  if (!parsed) {
    parsed = parseCertificate(pem);
    if (parsedChainCertificates.size >= maxCachedChainCertificates)
      parsedChainCertificates.delete(parsedChainCertificates.keys().next().value!);
    parsedChainCertificates.set(pem, parsed);
  }
  return parsed;
}

/**
 * Whether a device keeps a delivered certificate: it must answer a CSR the device sent, carry
 * exactly the key that CSR asked for and the device id as CN, and chain up when the chain ends in
 * a root. The envelope was already verified (platform signature); these checks stop a platform
 * bug or a mix-up from installing a certificate the device cannot use.
 */
export async function judgeDeliveredCertificate(
  delivered: DeliveredCertificate,
  pending: PendingCsr | undefined,
  deviceId: string,
  now: Date,
): Promise<CertificateVerdict> {
  if (!pending) return { accepted: false, reason: 'unrequested-certificate' };
  let leaf: ParsedCertificate;
  let chain: ParsedCertificate[];
  try {
    leaf = parseCertificate(delivered.certificatePem);
    chain = delivered.chainPem.map(parseChainCertificate);
  } catch {
    return { accepted: false, reason: 'malformed-certificate' };
  }
  if (!spkiEqual(leaf.spki, Buffer.from(pending.publicKey, 'base64')))
    return { accepted: false, reason: 'certificate-key-mismatch' };
  if (leaf.subjectCommonName !== deviceId) return { accepted: false, reason: 'certificate-subject-mismatch' };
  const root = chain.at(-1);
  if (root && selfIssued(root)) {
    try {
      await verifyChain({ leaf, intermediates: chain.slice(0, -1), root, at: now, purpose: 'clientAuth' });
    } catch {
      return { accepted: false, reason: 'certificate-chain-invalid' };
    }
  }
  return {
    accepted: true,
    keyId: pending.keyId,
    certificate: {
      requestId: delivered.requestId,
      serialNumber: delivered.serialNumber,
      certificatePem: delivered.certificatePem,
      chainPem: delivered.chainPem,
      notAfter: leaf.notAfter.toISOString(),
    },
  };
}
