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
import { encodeName } from '../name.js';
import { signatureAlgorithm } from '../signer/algorithms.js';
import type { Signer } from '../signer/signer.js';
import { signWith } from '../signer/sign-tbs.js';

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

export const createCsr = async (req: CsrRequest): Promise<CreatedCsr> => {
  const spki = req.signer.publicKeySpki;
  if (req.publicKey !== undefined) {
    const given = req.publicKey instanceof Uint8Array ? req.publicKey : await exportSpki(req.publicKey);
    // A PKCS#10 self-signature only proves possession of the key it carries.
    if (!spkiEqual(given, spki)) throw new InvalidPkiInputError('CSR public key is not the signer key', {});
  }
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
