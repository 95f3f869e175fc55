/**
 * The device-leaf profile written straight to DER. pkijs/asn1js spend ~1.3 ms building a TBS
 * through their object model; this profile has a fixed shape, so the TBS is a few constant
 * fragments (algorithm identifiers, the fixed extensions), fragments fixed per issuer (its name
 * taken verbatim from its certificate, the AKI, the CRL distribution point) and the per-certificate
 * fields. The pkijs builder stays as the reference: tests prove both write the same bytes.
 */
import { createHash } from 'node:crypto';
import { toHex } from '../encoding/bytes.js';
import { unsignedIntegerContent, wholeSeconds } from '../encoding/der.js';
import { DerReader, elementBytes, readSingle, TAG } from '../encoding/der-reader.js';
import { asciiTlv, oidTlv, tlv, x509TimeDer } from '../encoding/der-writer.js';
import { derToPem } from '../encoding/pem.js';
import { BasicConstraints } from '../extensions/basic-constraints.js';
import { CrlDistributionPoints } from '../extensions/crl-distribution-points.js';
import { ExtendedKeyUsage } from '../extensions/extended-key-usage.js';
import { extensionDer, extensionTlv } from '../extensions/extension.js';
import { AuthorityKeyIdentifier } from '../extensions/key-identifiers.js';
import { KeyUsage } from '../extensions/key-usage.js';
import { SubjectAltName, assertDeviceId } from '../extensions/subject-alt-name.js';
import { keyIdentifier } from '../keys/spki.js';
import { nameDer } from '../name.js';
import { OID } from '../oids.js';
import { assertSerial, randomSerial, serialToHex } from '../serial.js';
import { ALGORITHM_IDENTIFIER_DER } from '../signer/algorithm-identifier.js';
import type { SignatureAlgorithmName } from '../signer/algorithms.js';
import { signatureOver } from '../signer/sign-tbs.js';
import { assertValidity, type IssuedCertificate } from './certificate-template.js';
import { assertWithinIssuer, type CertificateIssuer } from './issuer.js';
import type { DeviceCertificateRequest } from './device-certificate.js';

const EMPTY = new Uint8Array(0);

// Identical in every device certificate.
const VERSION_V3 = new Uint8Array([0xa0, 0x03, 0x02, 0x01, 0x02]);
const BASIC_CONSTRAINTS = extensionDer(BasicConstraints.of({ ca: false }));
const KEY_USAGE = extensionDer(KeyUsage.of(['digitalSignature']));
const EXT_KEY_USAGE = extensionDer(ExtendedKeyUsage.of(['clientAuth']));
const OID_SAN = oidTlv(OID.subjectAltName);
const OID_SKI = oidTlv(OID.subjectKeyIdentifier);
const OID_CN = oidTlv(OID.commonName);
const URI_TAG = 0x86; // GeneralName [6] IMPLICIT IA5String
const DNS_TAG = 0x82; // GeneralName [2] IMPLICIT IA5String

/** What stays the same for every certificate (and CRL) an issuer signs, computed on its first one. */
interface IssuerFragments {
  readonly issuerName: Uint8Array;
  readonly authorityKeyId: Uint8Array;
  /** CRL distribution point URL -> validated extension DER (an issuer serves one or a few). */
  readonly crlDistributionPoints: Map<string, Uint8Array>;
}

const MAX_CACHED_CRL_URLS = 32;
const fragmentsByIssuer = new WeakMap<CertificateIssuer, IssuerFragments>();

/** The subject Name of a certificate, verbatim from its TBS. */
const subjectNameFromTbs = (tbsDer: Uint8Array): Uint8Array => {
  const tbs = DerReader.inside(tbsDer, readSingle(tbsDer, TAG.SEQUENCE, 'TBSCertificate'), 'TBSCertificate');
  tbs.optional(TAG.CONTEXT_0);
  tbs.expect(TAG.INTEGER, 'serialNumber');
  tbs.expect(TAG.SEQUENCE, 'signature');
  tbs.expect(TAG.SEQUENCE, 'issuer');
  tbs.expect(TAG.SEQUENCE, 'validity');
  return elementBytes(tbsDer, tbs.expect(TAG.SEQUENCE, 'subject')).slice();
};

const issuerFragments = (issuer: CertificateIssuer): IssuerFragments => {
  let f = fragmentsByIssuer.get(issuer);
  if (!f) {
    f = {
      // loadIssuer's `subject` is the issuer certificate's own; a hand-made issuer may differ, and then its `subject` wins as in the pkijs builder.
      issuerName:
        issuer.subject === issuer.certificate.subject
          ? subjectNameFromTbs(issuer.certificate.tbsDer)
          : nameDer(issuer.subject),
      authorityKeyId: extensionDer(AuthorityKeyIdentifier.of(issuer.keyId)),
      crlDistributionPoints: new Map(),
    };
    fragmentsByIssuer.set(issuer, f);
  }
  return f;
};

const crlDistributionPointExtension = (f: IssuerFragments, url: string): Uint8Array => {
  let der = f.crlDistributionPoints.get(url);
  if (!der) {
    der = extensionDer(CrlDistributionPoints.of([url])); // validates the URL
    if (f.crlDistributionPoints.size >= MAX_CACHED_CRL_URLS) f.crlDistributionPoints.clear();
    f.crlDistributionPoints.set(url, der);
  }
  return der;
};

export interface DeviceTbs {
  readonly tbsDer: Uint8Array;
  readonly serial: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * The device TBSCertificate, with the same checks in the same order as the pkijs builder
 * (device id, validity within the issuer, SAN names, the key, CRL URL, serial, dates).
 */
export const encodeDeviceTbs = (req: DeviceCertificateRequest): DeviceTbs => {
  assertDeviceId(req.deviceId);
  assertWithinIssuer(req.issuer, req.notBefore, req.notAfter);
  const san = SubjectAltName.forDevice(req.deviceId, req.dnsNames ?? []); // validates the names
  const keyId = keyIdentifier(req.publicKeySpki); // refuses keys outside the profile
  const f = issuerFragments(req.issuer);
  const crlDp =
    req.crlDistributionPointUrl !== undefined ? crlDistributionPointExtension(f, req.crlDistributionPointUrl) : EMPTY;
  const serial = req.serial ?? randomSerial(req.random);
  assertSerial(serial);
  assertValidity(req.notBefore, req.notAfter);

  const sanValue = tlv(
    TAG.SEQUENCE,
    ...san.uris.map((u) => asciiTlv(URI_TAG, u)),
    ...san.dnsNames.map((d) => asciiTlv(DNS_TAG, d)),
  );
  const extensions = tlv(
    TAG.CONTEXT_0 | 0x03, // [3] EXPLICIT
    tlv(
      TAG.SEQUENCE,
      BASIC_CONSTRAINTS,
      KEY_USAGE,
      EXT_KEY_USAGE,
      extensionTlv(OID_SAN, san.critical, sanValue),
      extensionTlv(OID_SKI, false, tlv(TAG.OCTET_STRING, keyId)),
      f.authorityKeyId,
      crlDp,
    ),
  );
  const subject = tlv(TAG.SEQUENCE, tlv(TAG.SET, tlv(TAG.SEQUENCE, OID_CN, asciiTlv(TAG.UTF8_STRING, req.deviceId))));
  const tbsDer = tlv(
    TAG.SEQUENCE,
    VERSION_V3,
    tlv(TAG.INTEGER, unsignedIntegerContent(serial)),
    ALGORITHM_IDENTIFIER_DER[req.issuer.signer.algorithm],
    f.issuerName,
    tlv(TAG.SEQUENCE, x509TimeDer(req.notBefore), x509TimeDer(req.notAfter)),
    subject,
    req.publicKeySpki,
    extensions,
  );
  return { tbsDer, serial, notBefore: wholeSeconds(req.notBefore), notAfter: wholeSeconds(req.notAfter) };
};

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
export const assembleCertificate = (
  tbsDer: Uint8Array,
  algorithm: SignatureAlgorithmName,
  signature: Uint8Array,
): Uint8Array =>
  tlv(TAG.SEQUENCE, tbsDer, ALGORITHM_IDENTIFIER_DER[algorithm], tlv(TAG.BIT_STRING, new Uint8Array([0]), signature));

/** Encodes, signs through the issuer's Signer, and returns what the pkijs builder returns. */
export const signDeviceCertificate = async (req: DeviceCertificateRequest): Promise<IssuedCertificate> => {
  const tbs = encodeDeviceTbs(req);
  const signer = req.issuer.signer;
  const der = assembleCertificate(tbs.tbsDer, signer.algorithm, await signatureOver(signer, tbs.tbsDer));
  return {
    der,
    pem: derToPem(der, 'CERTIFICATE'),
    tbsDer: tbs.tbsDer,
    serialHex: serialToHex(tbs.serial),
    fingerprintSha256: toHex(createHash('sha256').update(der).digest()),
    notBefore: tbs.notBefore,
    notAfter: tbs.notAfter,
  };
};

/** The issuer name bytes the direct encoders write (verbatim from the issuer's TBS): certificates and CRLs. */
export const issuerNameBytes = (issuer: CertificateIssuer): Uint8Array => issuerFragments(issuer).issuerName;

/** The AuthorityKeyIdentifier extension DER of an issuer (certificates and CRLs carry the same one). */
export const authorityKeyIdBytes = (issuer: CertificateIssuer): Uint8Array => issuerFragments(issuer).authorityKeyId;
