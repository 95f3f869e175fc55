/**
 * v2 CRL building (RFC 5280 5): issuer, thisUpdate/nextUpdate, CRL number and AKI extensions,
 * entries with revocation date and reason, signed by the issuing CA through the Signer port.
 */
import * as asn1js from 'asn1js';
import { pkijs } from '../engine.js';
import { asBytes } from '../encoding/bytes.js';
import { bigintToBytes, normaliseSerialHex, unsignedInteger, x509Time } from '../encoding/der.js';
import { fromHex } from '../encoding/bytes.js';
import { derToPem } from '../encoding/pem.js';
import { InvalidPkiInputError } from '../errors.js';
import { toPkijsExtension } from '../extensions/extension.js';
import { AuthorityKeyIdentifier } from '../extensions/key-identifiers.js';
import { OID } from '../oids.js';
import { signatureAlgorithm } from '../signer/algorithms.js';
import { signWith } from '../signer/sign-tbs.js';
import type { CertificateIssuer } from '../certificate/issuer.js';
import { type RevocationReason, revocationReasonCode } from './revocation-reason.js';

export interface RevokedCertificateEntry {
  /** Serial as hex (any case, leading zeros ignored). */
  serialHex: string;
  revokedAt: Date;
  reason: RevocationReason;
}

export interface CrlRequest {
  /** The issuing CA whose certificates this CRL covers; it signs the CRL. */
  issuer: CertificateIssuer;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Monotonically increasing per issuer (RFC 5280 5.2.3); the caller keeps the counter. */
  crlNumber: bigint;
  revoked: readonly RevokedCertificateEntry[];
}

export interface IssuedCrl {
  der: Uint8Array;
  pem: string;
  tbsDer: Uint8Array;
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
}

const MAX_CRL_NUMBER = (1n << 159n) - 1n; // 20 octets, positive

/** CRLNumber extension value: a non-negative INTEGER. */
export const crlNumberExtension = (crlNumber: bigint) =>
  toPkijsExtension({
    oid: OID.crlNumber,
    critical: false,
    toDer: () => asBytes(unsignedInteger(bigintToBytes(crlNumber)).toBER(false)),
  });

const reasonExtension = (reason: RevocationReason) =>
  toPkijsExtension({
    oid: OID.crlReason,
    critical: false,
    toDer: () => asBytes(new asn1js.Enumerated({ value: revocationReasonCode(reason) }).toBER(false)),
  });

const encodeTbsCrl = (req: CrlRequest): InstanceType<typeof pkijs.CertificateRevocationList> => {
  if (req.nextUpdate.getTime() <= req.thisUpdate.getTime()) {
    throw new InvalidPkiInputError('nextUpdate must be later than thisUpdate', {});
  }
  if (typeof req.crlNumber !== 'bigint' || req.crlNumber < 0n || req.crlNumber > MAX_CRL_NUMBER) {
    throw new InvalidPkiInputError('crlNumber must be a bigint in 0..2^159-1', {});
  }
  const ku = req.issuer.certificate.keyUsage;
  if (ku && !ku.has('cRLSign')) {
    throw new InvalidPkiInputError('issuer certificate may not sign CRLs (keyUsage)', {
      serial: req.issuer.certificate.serialHex,
    });
  }
  const seen = new Set<string>();
  const entries = req.revoked.map((entry) => {
    const serialHex = normaliseSerialHex(entry.serialHex);
    if (seen.has(serialHex)) throw new InvalidPkiInputError('serial listed twice', { serial: serialHex });
    seen.add(serialHex);
    // removeFromCRL belongs to delta CRLs only; unspecified SHOULD be expressed by omitting the reason.
    if (entry.reason === 'removeFromCRL')
      throw new InvalidPkiInputError('removeFromCRL is only valid in delta CRLs', {});
    const extensions = entry.reason === 'unspecified' ? [] : [reasonExtension(entry.reason)];
    return new pkijs.RevokedCertificate({
      userCertificate: unsignedInteger(fromHex(serialHex)),
      revocationDate: x509Time(entry.revokedAt),
      ...(extensions.length ? { crlEntryExtensions: new pkijs.Extensions({ extensions }) } : {}),
    });
  });
  const sigAlg = new pkijs.AlgorithmIdentifier({ algorithmId: signatureAlgorithm(req.issuer.signer.algorithm).oid });
  const crl = new pkijs.CertificateRevocationList({
    version: 1, // v2
    signature: sigAlg,
    issuer: req.issuer.subject,
    thisUpdate: x509Time(req.thisUpdate),
    nextUpdate: x509Time(req.nextUpdate),
    // RFC 5280 5.1.2.6: with no revoked certificates the field is absent, not an empty SEQUENCE.
    ...(entries.length ? { revokedCertificates: entries } : {}),
    crlExtensions: new pkijs.Extensions({
      extensions: [AuthorityKeyIdentifier.of(req.issuer.keyId).toExtension(), crlNumberExtension(req.crlNumber)],
    }),
    signatureAlgorithm: sigAlg,
  });
  // encodeTBS is protected in pkijs's CRL typings, public at runtime (as on Certificate).
  crl.tbsView = asBytes((crl as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false));
  return crl;
};

export const buildCrl = async (req: CrlRequest): Promise<IssuedCrl> => {
  const crl = encodeTbsCrl(req);
  crl.signatureValue = await signWith(req.issuer.signer, crl.tbsView);
  const der = asBytes(crl.toSchema(false).toBER(false));
  return {
    der,
    pem: derToPem(der, 'X509 CRL'),
    tbsDer: crl.tbsView.slice(),
    crlNumber: req.crlNumber,
    thisUpdate: crl.thisUpdate.value,
    nextUpdate: crl.nextUpdate?.value ?? req.nextUpdate,
  };
};

/** The TBSCertList DER for a request, unsigned (deterministic: for known-answer tests). */
export const crlTbs = (req: CrlRequest): Uint8Array => encodeTbsCrl(req).tbsView.slice();
