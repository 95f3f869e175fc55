/** PKCS#10 intake: size-bounded parsing, self-signature verification, subject and SPKI extraction. */
import { pkijs } from '../engine.js';
import { asBytes } from '../encoding/bytes.js';
import { decodeWith, parseAsn1 } from '../encoding/der.js';
import { derFrom } from '../encoding/pem.js';
import { MalformedPkiObjectError, SignatureVerificationError } from '../errors.js';
import { parseEcSpki, type EcPublicKeyInfo } from '../keys/spki.js';
import { nameAttribute, nameToString } from '../name.js';
import { OID } from '../oids.js';
import { verifySignature } from '../signer/verify-signature.js';
import { readCsr } from './read-csr.js';

/** Larger CSRs are refused before any decoding (a device CSR is ~250 bytes). */
export const MAX_CSR_BYTES = 16 * 1024;

export interface ParsedCsr {
  readonly der: Uint8Array;
  readonly tbsDer: Uint8Array;
  readonly subject: string;
  readonly subjectCommonName: string | undefined;
  /** DER SPKI: compare with the enrolled key using spkiEqual. */
  readonly spki: Uint8Array;
  readonly publicKey: EcPublicKeyInfo;
  readonly signatureAlgorithmOid: string;
  readonly signature: Uint8Array;
}

/** Size bounds first: PEM text before the regex runs, DER before any decoder runs. */
const boundedDer = (input: Uint8Array | string): Uint8Array => {
  if (typeof input === 'string' && input.length > MAX_CSR_BYTES * 2) {
    throw new MalformedPkiObjectError('CSR too large', { length: input.length, max: MAX_CSR_BYTES });
  }
  const der = derFrom(input, 'CERTIFICATE REQUEST');
  if (der.byteLength > MAX_CSR_BYTES) {
    throw new MalformedPkiObjectError('CSR too large', { length: der.byteLength, max: MAX_CSR_BYTES });
  }
  return der;
};

/** Parses a PKCS#10 with the strict DER reader (read-csr.ts); does not verify the signature. */
export const parseCsr = (input: Uint8Array | string): ParsedCsr => {
  const der = boundedDer(input);
  const parts = readCsr(der);
  const spki = parts.spki.slice();
  return {
    der,
    tbsDer: parts.info.slice(),
    subject: parts.subject,
    subjectCommonName: parts.subjectCommonName,
    spki,
    publicKey: parseEcSpki(spki),
    signatureAlgorithmOid: parts.signatureAlgorithmOid,
    signature: parts.signature.slice(),
  };
};

/** The same through asn1js/pkijs: the reference the strict reader is tested against (slower). */
export const parseCsrWithPkijs = (input: Uint8Array | string): ParsedCsr => {
  const der = boundedDer(input);
  const asn1 = parseAsn1(der, 'CertificationRequest');
  const csr = decodeWith('CertificationRequest', () => new pkijs.CertificationRequest({ schema: asn1 }));
  if (csr.version !== 0) throw new MalformedPkiObjectError('unknown PKCS#10 version', { version: csr.version });
  const spki = asBytes(csr.subjectPublicKeyInfo.toSchema().toBER(false));
  return {
    der,
    tbsDer: csr.tbsView.slice(),
    subject: nameToString(csr.subject),
    subjectCommonName: nameAttribute(csr.subject, OID.commonName),
    spki,
    publicKey: parseEcSpki(spki),
    signatureAlgorithmOid: csr.signatureAlgorithm.algorithmId,
    signature: csr.signatureValue.valueBlock.valueHexView.slice(),
  };
};

/** Does the CSR's self-signature verify with the key it carries (proof of possession)? */
export const verifyCsrSignature = (csr: ParsedCsr): Promise<boolean> =>
  verifySignature({
    spki: csr.spki,
    algorithmOid: csr.signatureAlgorithmOid,
    data: csr.tbsDer,
    signature: csr.signature,
  });

/** Parse + verify in one step: what CA intake calls. Throws typed errors for every failure. */
export const parseAndVerifyCsr = async (input: Uint8Array | string): Promise<ParsedCsr> => {
  const csr = parseCsr(input);
  if (!(await verifyCsrSignature(csr))) {
    throw new SignatureVerificationError('CSR signature does not verify with its own key', {
      subject: csr.subjectCommonName,
    });
  }
  return csr;
};
