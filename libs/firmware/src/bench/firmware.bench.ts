/**
 * The firmware crypto on its own, no bus and no services: what one release, one rollout and one
 * device cost. Single JS thread, everything warmed up first, medians and p99 over many runs.
 *
 *   npm run bench:firmware -- --devices 300 --image-mib 1
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import {
  decideUpdate,
  decryptChunk,
  encryptImage,
  encryptedChunkRange,
  generateContentKey,
  generateFirmwareSigningKeys,
  metadataToJson,
  signDelegation,
  signRelease,
  signatureValid,
  signingBytes,
  unwrapContentKey,
  wrapContentKey,
  type DeviceDecryptionKeys,
} from '../index.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const DEVICES = arg('devices', 300);
const IMAGE_BYTES = Math.round(arg('image-mib', 1) * 1024 * 1024);
const CHUNK = arg('chunk-kib', 32) * 1024;

function stats(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms (n=${samples.length})`;
}
async function measure(runs: number, task: (i: number) => unknown | Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(20, runs); i++) await task(i);
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await task(i);
    samples.push(performance.now() - t);
  }
  return samples;
}

const { keys } = generateFirmwareSigningKeys();
const platform = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const platformSpki = new Uint8Array(platform.publicKey.export({ format: 'der', type: 'spki' }));
const image = new Uint8Array(IMAGE_BYTES).map((_, i) => (i * 31) & 0xff);
const imageSha256 = createHash('sha256').update(image).digest('hex');
const release = (metadataVersion: number) => ({
  firmwareId: 'fw-bench',
  product: 'fridge-x200',
  version: '2.0.0',
  imageSha256,
  length: image.length,
  metadataVersion,
  expires: new Date(Date.now() + 86_400_000),
});

console.log(
  `firmware bench: node ${process.version}, image ${(IMAGE_BYTES / 1048576).toFixed(2)} MiB, chunks of ${CHUNK / 1024} KiB`,
);

// Release: both signatures (the hybrid signing time), once per release.
const signTimes = await measure(100, (i) => signRelease(release(i + 1), keys));
console.log(`hybrid release signing (ECDSA P-256 + ML-DSA-65): ${stats(signTimes)}`);
const metadata = await signRelease(release(1), keys);
const delegation = await signDelegation(
  { version: 1, expires: new Date(Date.now() + 86_400_000), ecdsa: keys.ecdsa.key, mlDsa: keys.mlDsa.key },
  { privateKey: platform.privateKey, publicKeySpki: platformSpki },
);
const bytes = signingBytes(metadata.signed);
const sig = (n: number) => new Uint8Array(Buffer.from(metadata.signatures[n]!.sig, 'hex'));
console.log(`  ECDSA P-256 verify: ${stats(await measure(500, () => signatureValid(keys.ecdsa.key, bytes, sig(0))))}`);
console.log(`  ML-DSA-65 verify:   ${stats(await measure(200, () => signatureValid(keys.mlDsa.key, bytes, sig(1))))}`);
const offer = { delegation: metadataToJson(delegation), metadata: metadataToJson(metadata) };
const state = { product: 'fridge-x200', installedVersion: '1.0.0', lastMetadataVersion: 0, platformKey: platformSpki };
console.log(
  `  device decision (parse + 3 signatures + checks): ${stats(await measure(200, () => decideUpdate(state, offer, new Date())))}`,
);

// Rollout: the image encrypted once, the key wrapped per device.
const contentKey = generateContentKey();
const encryptTimes = await measure(5, () => encryptImage(image, imageSha256, contentKey, CHUNK));
const encMedian = [...encryptTimes].sort((a, b) => a - b)[2]!;
console.log(
  `image encryption (AES-256-GCM, chunked): ${stats(encryptTimes)} = ${(IMAGE_BYTES / 1048576 / (encMedian / 1000)).toFixed(0)} MiB/s`,
);
const devices = Array.from({ length: DEVICES }, () => {
  const ecdh = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const kem = ml_kem768.keygen();
  const ecdhPublicKey = new Uint8Array(ecdh.publicKey.export({ format: 'der', type: 'spki' }));
  const decryption: DeviceDecryptionKeys = {
    ecdh: { privateKey: ecdh.privateKey, publicKeySpki: ecdhPublicKey },
    mlKem: { publicKey: kem.publicKey, decapsulate: (c) => ml_kem768.decapsulate(c, kem.secretKey.slice()) },
  };
  return {
    id: `d-${Math.random().toString(36).slice(2)}`,
    public: { ecdhPublicKey, mlKemPublicKey: kem.publicKey },
    decryption,
  };
});
const wraps: Uint8Array[] = [];
const wrapTimes = await measure(DEVICES, (i) => {
  wraps[i] = wrapContentKey(contentKey, devices[i]!.public, { deviceId: devices[i]!.id, rolloutId: 'r-bench' });
});
const wrapTotal = wrapTimes.reduce((a, b) => a + b, 0);
console.log(
  `per-device key wrap (ECDH P-256 + ML-KEM-768 + HKDF + AES-GCM): ${stats(wrapTimes)}, ${((DEVICES * 1000) / wrapTotal).toFixed(0)} wraps/s`,
);
const unwrapTimes = await measure(DEVICES, (i) =>
  unwrapContentKey(wraps[i]!, devices[i]!.decryption, { deviceId: devices[i]!.id, rolloutId: 'r-bench' }),
);
console.log(`per-device key unwrap (device side): ${stats(unwrapTimes)}`);

// Device: decrypt chunk by chunk.
const { header, ciphertext } = encryptImage(image, imageSha256, contentKey, CHUNK);
const decryptTimes = await measure(5, () => {
  for (let i = 0; i < header.chunkCount; i++) {
    const { offset, length } = encryptedChunkRange(header, i);
    decryptChunk(contentKey, header, i, ciphertext.subarray(offset, offset + length));
  }
});
const decMedian = [...decryptTimes].sort((a, b) => a - b)[2]!;
console.log(
  `image decryption, chunk by chunk: ${stats(decryptTimes)} = ${(IMAGE_BYTES / 1048576 / (decMedian / 1000)).toFixed(0)} MiB/s`,
);
