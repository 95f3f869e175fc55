/** Profile: a self-signed root CA. Its key should go offline once the issuing CAs exist. */
import { BasicConstraints } from '../extensions/basic-constraints.js';
import { AuthorityKeyIdentifier, SubjectKeyIdentifier } from '../extensions/key-identifiers.js';
import { KeyUsage } from '../extensions/key-usage.js';
import { keyIdentifier } from '../keys/spki.js';
import { encodeName, type DistinguishedName } from '../name.js';
import { randomSerial, type RandomSource } from '../serial.js';
import type { Signer } from '../signer/signer.js';
import { signCertificate, type IssuedCertificate } from './certificate-template.js';

export interface RootCaRequest {
  subject: DistinguishedName;
  /** Holds the root key; the certificate carries `signer.publicKeySpki`. */
  signer: Signer;
  notBefore: Date;
  notAfter: Date;
  /** How many CA levels may follow (root -> issuing -> leaf needs 1). */
  pathLength?: number;
  /** Fixed serial (known-answer tests) or a random source; defaults to 128 secure random bits. */
  serial?: Uint8Array;
  random?: RandomSource;
}

export const buildRootCaCertificate = async (req: RootCaRequest): Promise<IssuedCertificate> => {
  const name = encodeName(req.subject);
  const keyId = keyIdentifier(req.signer.publicKeySpki);
  return signCertificate(
    {
      subject: name,
      issuer: name,
      subjectPublicKeySpki: req.signer.publicKeySpki,
      serial: req.serial ?? randomSerial(req.random),
      notBefore: req.notBefore,
      notAfter: req.notAfter,
      extensions: [
        BasicConstraints.of({ ca: true, pathLength: req.pathLength ?? 1 }),
        KeyUsage.of(['keyCertSign', 'cRLSign']),
        SubjectKeyIdentifier.of(keyId),
        // Self-signed AKI is optional (RFC 5280 4.2.1.1); openssl writes it, and it helps path builders.
        AuthorityKeyIdentifier.of(keyId),
      ],
    },
    req.signer,
  );
};
