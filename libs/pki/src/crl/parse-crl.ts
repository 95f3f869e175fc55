/** CRL parsing and checking: signature by the issuer, revocation lookup by serial. */
import * as asn1js from 'asn1js';
import { pkijs } from '../engine.js';
import { toHex } from '../encoding/bytes.js';
import { decodeWith, integerHex, normaliseSerialHex, parseAsn1 } from '../encoding/der.js';
import { derFrom } from '../encoding/pem.js';
import { MalformedPkiObjectError, SignatureVerificationError } from '../errors.js';
import { extensionValue, findExtension } from '../extensions/extension.js';
import { AuthorityKeyIdentifier } from '../extensions/key-identifiers.js';
import { nameDer, nameToString } from '../name.js';
import { sameName } from '../name-reader.js';
import { OID } from '../oids.js';
import { verifySignature } from '../signer/verify-signature.js';
import type { ParsedCertificate } from '../certificate/parse-certificate.js';
import { type RevocationReason, revocationReasonFromCode } from './revocation-reason.js';

/** Refuse CRLs above this size before decoding (~40 bytes per entry: room for ~100k entries). */
export const MAX_CRL_BYTES = 4 * 1024 * 1024;

export interface CrlEntry {
  serialHex: string;
  revokedAt: Date;
  reason: RevocationReason;
}

export interface ParsedCrl {
  readonly der: Uint8Array;
  readonly tbsDer: Uint8Array;
  readonly issuer: InstanceType<typeof pkijs.RelativeDistinguishedNames>;
  readonly issuerName: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly crlNumber: bigint | undefined;
  readonly authorityKeyId: string | undefined;
  /** Keyed by normalised serial hex. */
  readonly entries: ReadonlyMap<string, CrlEntry>;
  readonly signatureAlgorithmOid: string;
  readonly signature: Uint8Array;
}

export const parseCrl = (input: Uint8Array | string): ParsedCrl => {
  const der = derFrom(input, 'X509 CRL');
  if (der.byteLength > MAX_CRL_BYTES) throw new MalformedPkiObjectError('CRL too large', { length: der.byteLength });
  const asn1 = parseAsn1(der, 'CertificateList');
  const crl = decodeWith('CertificateList', () => new pkijs.CertificateRevocationList({ schema: asn1 }));
  if (crl.version !== 1) throw new MalformedPkiObjectError('only v2 CRLs are accepted', { version: crl.version });

  const exts = crl.crlExtensions?.extensions;
  const numberExt = findExtension(exts, OID.crlNumber);
  let crlNumber: bigint | undefined;
  if (numberExt) {
    const int = parseAsn1(extensionValue(numberExt), 'CRLNumber');
    if (!(int instanceof asn1js.Integer)) throw new MalformedPkiObjectError('CRLNumber: INTEGER expected', {});
    crlNumber = BigInt(`0x${integerHex(int)}`);
  }
  const akiExt = findExtension(exts, OID.authorityKeyIdentifier);

  const entries = new Map<string, CrlEntry>();
  for (const rc of crl.revokedCertificates ?? []) {
    const serialHex = integerHex(rc.userCertificate);
    const reasonExt = findExtension(rc.crlEntryExtensions?.extensions, OID.crlReason);
    let reason: RevocationReason = 'unspecified';
    if (reasonExt) {
      const en = parseAsn1(extensionValue(reasonExt), 'CRLReason');
      if (!(en instanceof asn1js.Enumerated)) throw new MalformedPkiObjectError('CRLReason: ENUMERATED expected', {});
      reason = decodeWith('CRLReason', () => revocationReasonFromCode(en.valueBlock.valueDec));
    }
    entries.set(serialHex, { serialHex, revokedAt: rc.revocationDate.value, reason });
  }

  return {
    der,
    tbsDer: crl.tbsView.slice(),
    issuer: crl.issuer,
    issuerName: nameToString(crl.issuer),
    thisUpdate: crl.thisUpdate.value,
    nextUpdate: crl.nextUpdate?.value,
    crlNumber,
    authorityKeyId: akiExt ? AuthorityKeyIdentifier.fromDer(extensionValue(akiExt)).hex : undefined,
    entries,
    signatureAlgorithmOid: crl.signatureAlgorithm.algorithmId,
    signature: crl.signatureValue.valueBlock.valueHexView.slice(),
  };
};

/** The entry for a serial (hex, any case), or undefined if this CRL does not list it. */
export const findRevocation = (crl: ParsedCrl, serialHex: string): CrlEntry | undefined =>
  crl.entries.get(normaliseSerialHex(serialHex));

export const isRevoked = (crl: ParsedCrl, serialHex: string): boolean => findRevocation(crl, serialHex) !== undefined;

const issuerDers = new WeakMap<ParsedCrl, Uint8Array>();

/** The CRL issuer Name's DER (encoded once per parsed CRL), for comparing with certificates' names. */
export const crlIssuerDer = (crl: ParsedCrl): Uint8Array => {
  let der = issuerDers.get(crl);
  if (!der) issuerDers.set(crl, (der = nameDer(crl.issuer)));
  return der;
};

/**
 * Checks that `issuer` issued this CRL: names match, the CA may sign CRLs, AKI matches its SKI,
 * and the signature verifies. Throws SignatureVerificationError otherwise.
 */
export const verifyCrl = async (crl: ParsedCrl, issuer: ParsedCertificate): Promise<void> => {
  const context = { crlNumber: crl.crlNumber?.toString(), issuer: crl.issuerName };
  if (!sameName(crlIssuerDer(crl), issuer.subjectDer))
    throw new SignatureVerificationError('CRL issuer name does not match the CA', context);
  if (issuer.keyUsage && !issuer.keyUsage.has('cRLSign')) {
    throw new SignatureVerificationError('CA certificate may not sign CRLs', context);
  }
  const ski = issuer.subjectKeyIdentifier?.keyId;
  if (crl.authorityKeyId && ski && crl.authorityKeyId !== toHex(ski)) {
    throw new SignatureVerificationError('CRL authority key id does not match the CA', context);
  }
  const ok = await verifySignature({
    spki: issuer.spki,
    algorithmOid: crl.signatureAlgorithmOid,
    data: crl.tbsDer,
    signature: crl.signature,
  });
  if (!ok) throw new SignatureVerificationError('CRL signature does not verify', context);
};
