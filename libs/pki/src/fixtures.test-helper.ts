/** Test fixtures: fixed P-256 keys (test-only, published here on purpose), fixed dates, a CA hierarchy. */
import { subtle, type CryptoKey } from './engine.js';
import { buildDeviceCertificate } from './certificate/device-certificate.js';
import { loadIssuer, type CertificateIssuer } from './certificate/issuer.js';
import { buildIssuingCaCertificate } from './certificate/issuing-ca.js';
import { buildRootCaCertificate } from './certificate/root-ca.js';
import type { IssuedCertificate } from './certificate/certificate-template.js';
import { generateP256KeyPair, WebCryptoSigner } from './signer/webcrypto-signer.js';

export const FIXED_JWK = {
  root: {
    d: 'RR9Becf5zanMnBKs1PhvDf0lYI4JPM1kB0lOjINaCCQ',
    x: '7yhV0v6VI0NAvNChJQ6ldh9rBOn7vQRcdROn7-yoZew',
    y: 'prdiPfaxLouYmljckiLYdh1zNQn6Aesqt4RebVrghVE',
  },
  issuing: {
    d: '3TkyG99Hdn4-p1fHIHU4A8kXgoU0l7by5XTSLaMVRX4',
    x: 'ZIZMai7OM9YkdSBx_groxSZZy5zKGw_zp7yFdUb1JRo',
    y: 'KhJIOqGqCdcL64vU24aIJrXtdRs3b0BsLtMy2TaB_mc',
  },
  device: {
    d: '0n9_BhiiJ65q8R7MtmY7REu3AbQJMKnGvPcYts_MvEI',
    x: 'K9SvWulnq8ZHCFcP6aaHuIZGo0pKngWvbKIfVzKnJIg',
    y: 'GH_Z9qlapfqgT8nTaKM-IUYGwmraPGNmXf5aAGisbp0',
  },
} as const;

export const fixedKeyPair = async (
  name: keyof typeof FIXED_JWK,
): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }> => {
  const jwk = { kty: 'EC', crv: 'P-256', ...FIXED_JWK[name] };
  const { d: _d, ...pub } = jwk;
  return {
    privateKey: await subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']),
    publicKey: await subtle.importKey('jwk', pub, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']),
  };
};

export const fixedSigner = async (name: keyof typeof FIXED_JWK) =>
  WebCryptoSigner.fromKeyPair(await fixedKeyPair(name));

export const T0 = new Date('2026-01-01T00:00:00Z');
export const ROOT_NOT_AFTER = new Date('2046-01-01T00:00:00Z');
export const ISSUING_NOT_AFTER = new Date('2036-01-01T00:00:00Z');
export const LEAF_NOT_AFTER = new Date('2027-01-01T00:00:00Z');
export const CRL_URL = 'http://ca.tunnelkey.local/crl/acme.crl';

/** Deterministic bytes for serials: `fill` repeated. */
export const fixedRandom = (fill: number) => (n: number) => new Uint8Array(n).fill(fill);

export interface Hierarchy {
  root: IssuedCertificate;
  issuing: IssuedCertificate;
  rootIssuer: CertificateIssuer;
  issuingIssuer: CertificateIssuer;
}

/** Root + issuing CA; fixed keys and serials unless `fresh`, so runs are reproducible. */
export const makeHierarchy = async (options: { fresh?: boolean; tenant?: string } = {}): Promise<Hierarchy> => {
  const rootSigner = options.fresh
    ? await WebCryptoSigner.fromKeyPair(await generateP256KeyPair())
    : await fixedSigner('root');
  const issuingSigner = options.fresh
    ? await WebCryptoSigner.fromKeyPair(await generateP256KeyPair())
    : await fixedSigner('issuing');
  const tenant = options.tenant ?? 'acme';
  const root = await buildRootCaCertificate({
    subject: { commonName: 'tunnelkey Root CA', organization: 'tunnelkey' },
    signer: rootSigner,
    notBefore: T0,
    notAfter: ROOT_NOT_AFTER,
    ...(options.fresh ? {} : { serial: new Uint8Array([0x01]) }),
  });
  const rootIssuer = loadIssuer({ certificate: root.der, signer: rootSigner });
  const issuing = await buildIssuingCaCertificate({
    subject: { commonName: `${tenant} Issuing CA`, organization: tenant },
    publicKeySpki: issuingSigner.publicKeySpki,
    issuer: rootIssuer,
    notBefore: T0,
    notAfter: ISSUING_NOT_AFTER,
    ...(options.fresh ? {} : { serial: new Uint8Array([0x02]) }),
  });
  return { root, issuing, rootIssuer, issuingIssuer: loadIssuer({ certificate: issuing.der, signer: issuingSigner }) };
};

export const issueDevice = async (
  h: Hierarchy,
  deviceId: string,
  overrides: { notAfter?: Date; serial?: Uint8Array } = {},
) => {
  const device = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const cert = await buildDeviceCertificate({
    deviceId,
    publicKeySpki: device.publicKeySpki,
    issuer: h.issuingIssuer,
    notBefore: T0,
    notAfter: overrides.notAfter ?? LEAF_NOT_AFTER,
    crlDistributionPointUrl: CRL_URL,
    ...(overrides.serial ? { serial: overrides.serial } : {}),
  });
  return { cert, device };
};
