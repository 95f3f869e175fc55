/**
 * Reference encoder: the same TBSCertList through pkijs's object model (slower; tests compare it
 * with the direct DER writer in build-crl.ts, which CRL building uses).
 */
import * as asn1js from 'asn1js';
import { pkijs } from '../engine.js';
import { asBytes, fromHex } from '../encoding/bytes.js';
import { bigintToBytes, unsignedInteger, x509Time } from '../encoding/der.js';
import { toPkijsExtension } from '../extensions/extension.js';
import { AuthorityKeyIdentifier } from '../extensions/key-identifiers.js';
import { OID } from '../oids.js';
import { signatureAlgorithm } from '../signer/algorithms.js';
import { checkCrlRequest, type CrlRequest } from './build-crl.js';
import { revocationReasonCode } from './revocation-reason.js';

/** Reference TBS through pkijs; byte-identical to `crlTbs` for the same request. */
export const crlTbsWithPkijs = (req: CrlRequest): Uint8Array => {
  const entries = checkCrlRequest(req).map(
    (entry) =>
      new pkijs.RevokedCertificate({
        userCertificate: unsignedInteger(fromHex(entry.serialHex)),
        revocationDate: x509Time(entry.revokedAt),
        ...(entry.reason
          ? {
              crlEntryExtensions: new pkijs.Extensions({
                extensions: [
                  toPkijsExtension({
                    oid: OID.crlReason,
                    critical: false,
                    toDer: () =>
                      asBytes(new asn1js.Enumerated({ value: revocationReasonCode(entry.reason!) }).toBER(false)),
                  }),
                ],
              }),
            }
          : {}),
      }),
  );
  const sigAlg = new pkijs.AlgorithmIdentifier({ algorithmId: signatureAlgorithm(req.issuer.signer.algorithm).oid });
  const crl = new pkijs.CertificateRevocationList({
    version: 1, // v2
    signature: sigAlg,
    issuer: req.issuer.subject,
    thisUpdate: x509Time(req.thisUpdate),
    nextUpdate: x509Time(req.nextUpdate),
    ...(entries.length ? { revokedCertificates: entries } : {}),
    crlExtensions: new pkijs.Extensions({
      extensions: [
        AuthorityKeyIdentifier.of(req.issuer.keyId).toExtension(),
        toPkijsExtension({
          oid: OID.crlNumber,
          critical: false,
          toDer: () => asBytes(unsignedInteger(bigintToBytes(req.crlNumber)).toBER(false)),
        }),
      ],
    }),
    signatureAlgorithm: sigAlg,
  });
  // encodeTBS is protected in pkijs's CRL typings, public at runtime (as on Certificate).
  return asBytes((crl as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false));
};
