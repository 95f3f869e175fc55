/**
 * v2 CRL building (RFC 5280 5): issuer, thisUpdate/nextUpdate, CRL number and AKI extensions,
 * entries with revocation date and reason, signed by the issuing CA through the Signer port.
 */
import * as asn1js from 'asn1js';
import { pkijs } from '../engine.js';
import { asBytes } from '../encoding/bytes.js';
import {
  GENERALIZED_FROM,
  bigintToBytes,
  normaliseSerialHex,
  unsignedInteger,
  unsignedIntegerContent,
  wholeSeconds,
  x509Time,
} from '../encoding/der.js';
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

/**
 * The revoked certificates, DER-encoded here rather than as pkijs objects: a CRL grows by an entry
 * per revocation, and pkijs took ~150 ms for 1,000 entries (encoded twice, for the signature and
 * for the CRL), blocking the event loop of whoever builds it. Byte for byte what pkijs wrote.
 */
const derLength = (n: number): number[] => {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return [0x80 | bytes.length, ...bytes];
};

const tlv = (tag: number, ...content: Uint8Array[]): Uint8Array => {
  const length = content.reduce((n, part) => n + part.length, 0);
  return concatBytes([Uint8Array.of(tag, ...derLength(length)), ...content]);
};

const concatBytes = (parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
};

/** RFC 5280 4.1.2.5 (as x509Time): UTCTime through 2049, GeneralizedTime after, whole seconds, Z. */
const timeDer = (date: Date): Uint8Array => {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new InvalidPkiInputError('invalid date', {});
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  return ms < GENERALIZED_FROM
    ? tlv(0x17, new TextEncoder().encode(`${digits.slice(2)}Z`))
    : tlv(0x18, new TextEncoder().encode(`${digits}Z`));
};

/** crlEntryExtensions with the reasonCode extension (2.5.29.21, not critical): ENUMERATED code. */
const reasonExtensionsDer = (reason: RevocationReason): Uint8Array =>
  tlv(
    0x30,
    tlv(
      0x30,
      Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x15),
      tlv(0x04, tlv(0x0a, Uint8Array.of(revocationReasonCode(reason)))),
    ),
  );

const revokedCertificatesDer = (revoked: readonly RevokedCertificateEntry[]): Uint8Array | undefined => {
  if (revoked.length === 0) return undefined;
  const seen = new Set<string>();
  const entries = revoked.map((entry) => {
    const serialHex = normaliseSerialHex(entry.serialHex);
    if (seen.has(serialHex)) throw new InvalidPkiInputError('serial listed twice', { serial: serialHex });
    seen.add(serialHex);
    // removeFromCRL belongs to delta CRLs only; unspecified SHOULD be expressed by omitting the reason.
    if (entry.reason === 'removeFromCRL')
      throw new InvalidPkiInputError('removeFromCRL is only valid in delta CRLs', {});
    const serial = tlv(0x02, unsignedIntegerContent(fromHex(serialHex)));
    const date = timeDer(wholeSeconds(entry.revokedAt));
    return entry.reason === 'unspecified'
      ? tlv(0x30, serial, date)
      : tlv(0x30, serial, date, reasonExtensionsDer(entry.reason));
  });
  return tlv(0x30, ...entries);
};

/** Puts the revokedCertificates field into a TBSCertList encoded without it: after nextUpdate, before [0] crlExtensions. */
const withRevoked = (tbs: Uint8Array, revoked: Uint8Array): Uint8Array => {
  const header = (at: number): { contentAt: number; end: number } => {
    const first = tbs[at + 1]!;
    const lengthBytes = first & 0x80 ? first & 0x7f : 0;
    let length = lengthBytes ? 0 : first;
    for (let i = 0; i < lengthBytes; i++) length = length * 256 + tbs[at + 2 + i]!;
    const contentAt = at + 2 + lengthBytes;
    return { contentAt, end: contentAt + length };
  };
  const outer = header(0);
  let at = outer.contentAt;
  while (at < outer.end && tbs[at] !== 0xa0) at = header(at).end;
  return tlv(0x30, tbs.subarray(outer.contentAt, at), revoked, tbs.subarray(at, outer.end));
};

interface EncodedTbs {
  crl: InstanceType<typeof pkijs.CertificateRevocationList>;
  tbs: Uint8Array;
  signatureAlgorithm: InstanceType<typeof pkijs.AlgorithmIdentifier>;
}

const encodeTbsCrl = (req: CrlRequest): EncodedTbs => {
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
  const revoked = revokedCertificatesDer(req.revoked);
  const sigAlg = new pkijs.AlgorithmIdentifier({ algorithmId: signatureAlgorithm(req.issuer.signer.algorithm).oid });
  // RFC 5280 5.1.2.6: with no revoked certificates the field is absent, not an empty SEQUENCE.
  const crl = new pkijs.CertificateRevocationList({
    version: 1, // v2
    signature: sigAlg,
    issuer: req.issuer.subject,
    thisUpdate: x509Time(req.thisUpdate),
    nextUpdate: x509Time(req.nextUpdate),
    crlExtensions: new pkijs.Extensions({
      extensions: [AuthorityKeyIdentifier.of(req.issuer.keyId).toExtension(), crlNumberExtension(req.crlNumber)],
    }),
    signatureAlgorithm: sigAlg,
  });
  // encodeTBS is protected in pkijs's CRL typings, public at runtime (as on Certificate).
  const frame = asBytes((crl as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false));
  return { crl, tbs: revoked ? withRevoked(frame, revoked) : frame, signatureAlgorithm: sigAlg };
};

export const buildCrl = async (req: CrlRequest): Promise<IssuedCrl> => {
  const { crl, tbs, signatureAlgorithm: sigAlg } = encodeTbsCrl(req);
  const signature = await signWith(req.issuer.signer, tbs);
  // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }
  const der = tlv(0x30, tbs, asBytes(sigAlg.toSchema().toBER(false)), asBytes(signature.toBER(false)));
  return {
    der,
    pem: derToPem(der, 'X509 CRL'),
    tbsDer: tbs.slice(),
    crlNumber: req.crlNumber,
    thisUpdate: crl.thisUpdate.value,
    nextUpdate: crl.nextUpdate?.value ?? req.nextUpdate,
  };
};

/** The TBSCertList DER for a request, unsigned (deterministic: for known-answer tests). */
export const crlTbs = (req: CrlRequest): Uint8Array => encodeTbsCrl(req).tbs.slice();
