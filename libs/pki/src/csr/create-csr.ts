/**
 * PKCS#10 creation for devices (the simulated firmware uses it). The key stays wherever the Signer
 * keeps it, typically a non-extractable CryptoKey derived from the PUF.
 */
import type * as asn1js from 'asn1js';
import { pkijs, type CryptoKey } from '../engine.js';
import { asBytes } from '../encoding/bytes.js';
import { derToPem } from '../encoding/pem.js';
import { InvalidPkiInputError } from '../errors.js';
import { exportSpki } from '../signer/webcrypto-signer.js';
import { spkiEqual } from '../keys/spki.js';
import { encodeName, nameDer } from '../name.js';
import { signatureAlgorithm } from '../signer/algorithms.js';
import type { Signer } from '../signer/signer.js';
import { signatureOver, signWith } from '../signer/sign-tbs.js';
import { ALGORITHM_IDENTIFIER_DER } from '../signer/algorithm-identifier.js';
import { TAG } from '../encoding/der-reader.js';
import { tlv } from '../encoding/der-writer.js';

export interface CsrRequest {
  subjectCommonName: string;
  /** Signs the request: proof of possession of the key being certified. */
  signer: Signer;
  /** The key to certify; defaults to the signer's. If given it must be the signer's key. */
  publicKey?: CryptoKey | Uint8Array;
}

export interface CreatedCsr {
  der: Uint8Array;
  pem: string;
}

const VERSION_1 = new Uint8Array([0x02, 0x01, 0x00]); // INTEGER 0
const NO_ATTRIBUTES = new Uint8Array([0xa0, 0x00]); // [0] IMPLICIT SET OF Attribute, empty (required by PKCS#10)
/**
 * CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature },
 * written directly in DER (RFC 2986): the same bytes the pkijs builder (createCsrWithPkijs) makes,
 * without its object model for the request (~0.4 ms per CSR on a simulated device); the name goes
 * through encodeName, as everywhere else.
 */
export const createCsr = async (req: CsrRequest): Promise<CreatedCsr> => {
  const spki = await checkedSpki(req);
  const subject = nameDer(encodeName({ commonName: req.subjectCommonName }));
  const info = tlv(TAG.SEQUENCE, VERSION_1, subject, spki, NO_ATTRIBUTES);
  const signature = await signatureOver(req.signer, info);
  const der = tlv(
    TAG.SEQUENCE,
    info,
    ALGORITHM_IDENTIFIER_DER[req.signer.algorithm],
    tlv(TAG.BIT_STRING, new Uint8Array([0]), signature),
  );
  return { der, pem: derToPem(der, 'CERTIFICATE REQUEST') };
};

/** The signer's SPKI, after checking a given public key is that key. */
const checkedSpki = async (req: CsrRequest): Promise<Uint8Array> => {
  const spki = req.signer.publicKeySpki;
  if (req.publicKey !== undefined) {
    const given = req.publicKey instanceof Uint8Array ? req.publicKey : await exportSpki(req.publicKey);
    // A PKCS#10 self-signature only proves possession of the key it carries.
    if (!spkiEqual(given, spki)) throw new InvalidPkiInputError('CSR public key is not the signer key', {});
  }
  return spki;
};

/** The pkijs builder, kept as the reference the direct encoder is tested against. */
export const createCsrWithPkijs = async (req: CsrRequest): Promise<CreatedCsr> => {
  const spki = await checkedSpki(req);
  const sigAlg = new pkijs.AlgorithmIdentifier({ algorithmId: signatureAlgorithm(req.signer.algorithm).oid });
  const csr = new pkijs.CertificationRequest({
    version: 0,
    subject: encodeName({ commonName: req.subjectCommonName }),
    subjectPublicKeyInfo: pkijs.PublicKeyInfo.fromBER(spki),
    attributes: [], // PKCS#10 requires the [0] attributes field, even when empty
    signatureAlgorithm: sigAlg,
  });
  // encodeTBS is protected in pkijs's CSR typings (public at runtime, and on Certificate/CRL).
  csr.tbsView = asBytes((csr as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false));
  csr.signatureValue = await signWith(req.signer, csr.tbsView);
  const der = asBytes(csr.toSchema(false).toBER(false));
  return { der, pem: derToPem(der, 'CERTIFICATE REQUEST') };
};
