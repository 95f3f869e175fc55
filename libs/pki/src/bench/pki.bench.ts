/**
 * Raw issuing rate of the CA core, no bus and no services: parse a device CSR, verify its
 * signature, build the device certificate, sign it. Single JS thread; WebCrypto signing runs in
 * libuv's pool, so we report strictly sequential issuance and issuance with requests in flight.
 *
 *   npm run bench:pki -- --certs 3000 --concurrency 16
 *   npm run bench:pki -- --certs 3000 --reference   # the pkijs parser and encoder, for comparison
 *   npm run bench:pki -- --parse --certs 2000       # certificate reading and chain checks instead
 */
import { performance } from 'node:perf_hooks';
import {
  buildDeviceCertificate,
  buildIssuingCaCertificate,
  buildRootCaCertificate,
  createCsr,
  generateP256KeyPair,
  loadIssuer,
  parseAndVerifyCsr,
  WebCryptoSigner,
  type CertificateIssuer,
} from '../index.js';
import { buildDeviceCertificateWithPkijs } from '../certificate/device-certificate.js';
import { parseCsrWithPkijs, verifyCsrSignature } from '../csr/parse-csr.js';
import { parseCertificateWithPkijs } from '../certificate/parse-certificate.js';
import { runParseBench } from './certificate-parse.bench.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

const N = arg('certs', 2000);
const REFERENCE = process.argv.includes('--reference');
const CONCURRENCY = arg('concurrency', 16);
const notBefore = new Date('2026-01-01T00:00:00Z');
const notAfter = new Date('2027-01-01T00:00:00Z');

const fastPath = { parseAndVerify: parseAndVerifyCsr, build: buildDeviceCertificate };
const referencePath = {
  parseAndVerify: async (der: Uint8Array) => {
    const csr = parseCsrWithPkijs(der);
    if (!(await verifyCsrSignature(csr))) throw new Error('CSR does not verify');
    return csr;
  },
  build: buildDeviceCertificateWithPkijs,
};
const path = REFERENCE ? referencePath : fastPath;

const issueOne = async (issuer: CertificateIssuer, csrDer: Uint8Array, i: number) => {
  const csr = await path.parseAndVerify(csrDer);
  return path.build({
    deviceId: csr.subjectCommonName ?? `d-${i}`,
    publicKeySpki: csr.spki,
    issuer,
    notBefore,
    notAfter,
    crlDistributionPointUrl: 'http://ca.tunnelkey.local/crl/bench.crl',
  });
};

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

const main = async () => {
  const rootSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const root = await buildRootCaCertificate({
    subject: { commonName: 'bench root' },
    signer: rootSigner,
    notBefore,
    notAfter: new Date('2036-01-01T00:00:00Z'),
  });
  const issuingSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const issuing = await buildIssuingCaCertificate({
    subject: { commonName: 'bench issuing CA', organization: 'bench' },
    publicKeySpki: issuingSigner.publicKeySpki,
    issuer: loadIssuer({ certificate: root.der, signer: rootSigner }),
    notBefore,
    notAfter: new Date('2036-01-01T00:00:00Z'),
  });
  const issuer = loadIssuer({ certificate: issuing.der, signer: issuingSigner });

  process.stdout.write(`preparing ${N} device CSRs...\n`);
  const csrs: Uint8Array[] = [];
  for (let i = 0; i < N; i++) {
    const device = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
    csrs.push((await createCsr({ subjectCommonName: `d-${i.toString(16).padStart(8, '0')}`, signer: device })).der);
  }

  // Warm-up: JIT and key import paths.
  for (let i = 0; i < Math.min(200, N); i++) await issueOne(issuer, csrs[i]!, i);

  const latencies: number[] = [];
  let t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const s = performance.now();
    await issueOne(issuer, csrs[i]!, i);
    latencies.push(performance.now() - s);
  }
  const seqMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);

  t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        await issueOne(issuer, csrs[i]!, i);
      }
    }),
  );
  const parMs = performance.now() - t0;

  const fmt = (n: number) => n.toFixed(0);
  process.stdout.write(
    [
      `pki raw issuing rate (parse CSR + verify + build + sign), ${REFERENCE ? 'pkijs reference path' : 'direct DER path'}, node ${process.version}, ${N} certificates`,
      `  sequential:        ${fmt((N / seqMs) * 1000)} certs/s  (p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms)`,
      `  ${String(CONCURRENCY).padStart(2)} in flight:       ${fmt((N / parMs) * 1000)} certs/s`,
      '',
    ].join('\n'),
  );
};

(process.argv.includes('--parse') ? runParseBench({ parseCertificateWithPkijs }) : main()).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
