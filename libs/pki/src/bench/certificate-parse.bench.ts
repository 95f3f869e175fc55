/**
 * Certificate reading rate: parseCertificate on device / issuing / root certificates, and
 * verifyChain as the simulated devices call it (leaf as DER, chain already parsed) and with
 * everything as DER. Single JS thread; signature checks run in libuv's pool.
 *
 *   npm run bench:pki -- --parse --certs 2000
 */
import { performance } from 'node:perf_hooks';
import {
  buildDeviceCertificate,
  buildIssuingCaCertificate,
  buildRootCaCertificate,
  generateP256KeyPair,
  loadIssuer,
  parseCertificate,
  verifyChain,
  WebCryptoSigner,
  type ParsedCertificate,
} from '../index.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

type Parse = (der: Uint8Array) => ParsedCertificate;

const rate = (n: number, ms: number) =>
  `${((n / ms) * 1000).toFixed(0).padStart(7)} /s  (${((ms / n) * 1000).toFixed(1)} µs each)`;

const timeParse = (parse: Parse, ders: readonly Uint8Array[], rounds: number): number => {
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (const der of ders) parse(der);
  return performance.now() - t0;
};

export const runParseBench = async (extraParsers: Record<string, Parse> = {}): Promise<void> => {
  const N = arg('certs', 1000);
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date('2027-01-01T00:00:00Z');
  const at = new Date('2026-06-01T00:00:00Z');
  const rootSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const root = await buildRootCaCertificate({
    subject: { commonName: 'bench root', organization: 'bench' },
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

  process.stdout.write(`preparing ${N} device certificates...\n`);
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < N; i++) {
    const device = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
    leaves.push(
      (
        await buildDeviceCertificate({
          deviceId: `d-${i.toString(16).padStart(8, '0')}`,
          publicKeySpki: device.publicKeySpki,
          issuer,
          notBefore,
          notAfter,
          crlDistributionPointUrl: 'http://ca.tunnelkey.local/crl/bench.crl',
        })
      ).der,
    );
  }
  const cas = [root.der, issuing.der];
  const lines: string[] = [`certificate reading, node ${process.version}, ${N} device certificates`];

  for (const [name, parse] of Object.entries({ parseCertificate, ...extraParsers })) {
    timeParse(parse, leaves.slice(0, 200), 1); // warm-up
    const leafMs = timeParse(parse, leaves, 1);
    const caRounds = Math.max(1, Math.floor(N / 2));
    const caMs = timeParse(parse, cas, caRounds);
    lines.push(`  ${name.padEnd(26)} device: ${rate(N, leafMs)}   CA: ${rate(caRounds * 2, caMs)}`);
  }

  const chainParsed = [parseCertificate(issuing.der)];
  const rootParsed = parseCertificate(root.der);
  const verify = async (mode: 'parsed chain' | 'all DER', leaf: Uint8Array) =>
    mode === 'parsed chain'
      ? verifyChain({
          leaf: parseCertificate(leaf),
          intermediates: chainParsed,
          root: rootParsed,
          at,
          purpose: 'clientAuth',
        })
      : verifyChain({ leaf, intermediates: [issuing.der], root: root.der, at, purpose: 'clientAuth' });
  for (const mode of ['parsed chain', 'all DER'] as const) {
    for (const leaf of leaves.slice(0, 100)) await verify(mode, leaf); // warm-up
    const t0 = performance.now();
    for (const leaf of leaves) await verify(mode, leaf);
    const seqMs = performance.now() - t0;
    const t1 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < N) await verify(mode, leaves[next++]!);
      }),
    );
    const parMs = performance.now() - t1;
    lines.push(`  verifyChain (${mode.padEnd(12)}) sequential: ${rate(N, seqMs)}   16 in flight: ${rate(N, parMs)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
};
