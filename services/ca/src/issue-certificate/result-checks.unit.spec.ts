import {
  buildDeviceCertificate,
  buildIssuingCaCertificate,
  buildRootCaCertificate,
  generateP256KeyPair,
  loadIssuer,
  parseCertificate,
  WebCryptoSigner,
  type ParsedCsr,
} from '@tunnelkey/pki';
import type { IssuanceContext } from './issuance-request.js';
import { failedChecks } from './result-checks.js';

const notBefore = new Date('2026-01-01T00:00:00Z');
const notAfter = new Date('2036-01-01T00:00:00Z');

async function issuingCa(name: string) {
  const rootSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const root = await buildRootCaCertificate({
    subject: { commonName: `${name} root` },
    signer: rootSigner,
    notBefore,
    notAfter,
  });
  const signer = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const issuing = await buildIssuingCaCertificate({
    subject: { commonName: `${name} issuing CA`, organization: name },
    publicKeySpki: signer.publicKeySpki,
    issuer: loadIssuer({ certificate: root.der, signer: rootSigner }),
    notBefore,
    notAfter,
  });
  return { issuer: loadIssuer({ certificate: issuing.der, signer }) };
}

const contextFor = (deviceId: string, spki: Uint8Array): IssuanceContext => ({
  request: { deviceId, requestId: 'r-1', keyId: 'tls-0', csrDer: new Uint8Array(), receivedAt: notBefore },
  facts: {},
  csr: { spki } as ParsedCsr,
  attested: false,
});

describe('result checks: what the CA signed, read back before it is recorded', () => {
  it('finds nothing wrong with the certificate the request asked for, and names each property that differs', async () => {
    const ca = await issuingCa('acme');
    const deviceKey = (await WebCryptoSigner.fromKeyPair(await generateP256KeyPair())).publicKeySpki;
    const anotherKey = (await WebCryptoSigner.fromKeyPair(await generateP256KeyPair())).publicKeySpki;
    const issued = await buildDeviceCertificate({
      deviceId: 'dev-1',
      publicKeySpki: deviceKey,
      issuer: ca.issuer,
      notBefore,
      notAfter,
      crlDistributionPointUrl: 'http://ca.tunnelkey.local/crl/acme.crl',
    });
    const certificate = parseCertificate(issued.der);

    expect(failedChecks({ certificate, ctx: contextFor('dev-1', deviceKey) })).toEqual([]);
    expect(failedChecks({ certificate, ctx: contextFor('dev-1', anotherKey) })).toEqual(['public key']);
    expect(failedChecks({ certificate, ctx: contextFor('dev-2', deviceKey) })).toEqual(['subject', 'SAN URI']);
  });
});
