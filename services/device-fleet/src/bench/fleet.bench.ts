/**
 * `npm run bench:fleet [-- --devices N --seconds S]`: resident memory per idle simulated device,
 * enrolments per second, and key reconstructions per second per core (single process,
 * sequential), with a breakdown of where a reconstruction's time goes. Run with --expose-gc.
 */
import { webcrypto } from 'node:crypto';
import { PufDevice } from '@tunnelkey/puf';
import { createFleet } from '../fleet/create-fleet.js';
import { SimulatedDevice } from '../simulated-device/simulated-device.js';

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
const deviceCount = argument('devices', 10_000);
const seconds = argument('seconds', 3);
const gc = (globalThis as { gc?: () => void }).gc;
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
const settle = () => {
  gc?.();
  gc?.();
};
const noTransport = { publish: () => undefined };

/** Sequential ops per CPU-second of this process (the per-core figure) and per wall second. */
async function rate(fn: () => unknown, warmup = 100): Promise<{ cpu: number; wall: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  let ops = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() < start + seconds * 1000) {
    for (let i = 0; i < 20; i++) await fn();
    ops += 20;
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpu: ops / ((cpu.user + cpu.system) / 1e6), wall: ops / ((performance.now() - start) / 1000) };
}
const show = (label: string, r: { cpu: number; wall: number }) =>
  console.log(
    `  ${label.padEnd(64)} ${r.cpu.toFixed(0).padStart(7)} /s per core (CPU time), ${r.wall.toFixed(0)} /s wall`,
  );

async function main(): Promise<void> {
  console.log(
    `tunnelkey device-fleet bench (node ${process.version}, ${gc ? 'gc exposed' : 'NO --expose-gc: memory figures are rough'})`,
  );

  console.log(`\nMemory: ${deviceCount} idle sram devices (enrolled, booted, flash in RAM), no bus`);
  settle();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const fleet = await createFleet({ size: deviceCount, seedBase: 'bench', concurrency: 4 });
  const cpu = process.cpuUsage(cpu0);
  const enrolSeconds = (performance.now() - t0) / 1000;
  settle();
  const after = process.memoryUsage();
  const heapDelta = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  const rssDelta = after.rss - before.rss;
  console.log(
    `  heap+arrayBuffers delta ${mib(heapDelta)} -> ${(heapDelta / deviceCount / 1024).toFixed(2)} KiB/device`,
  );
  console.log(
    `  RSS delta ${mib(rssDelta)} -> ${(rssDelta / deviceCount / 1024).toFixed(2)} KiB/device; RSS total ${mib(after.rss)} (target: 10,000 devices within 1 GiB)`,
  );
  console.log(
    `  projected RSS delta for 10,000 devices: ${mib((Math.max(rssDelta, heapDelta) / deviceCount) * 10_000)}`,
  );
  console.log(`\nEnrolment (manufacture + PUF read + fuzzy-extractor enrol + P-256 key + flash):`);
  console.log(
    `  fleet of ${deviceCount}: ${enrolSeconds.toFixed(1)} s wall -> ${(deviceCount / enrolSeconds).toFixed(0)} enrolments/s wall, ${(deviceCount / ((cpu.user + cpu.system) / 1e6)).toFixed(0)} per CPU-second`,
  );
  let n = 0;
  show(
    'sequential SimulatedDevice.manufacture',
    await rate(() => SimulatedDevice.manufacture({ seed: `bench-seq/${n++}`, transport: noTransport }), 20),
  );

  console.log(`\nKey reconstruction, sequential, one device (sram, 25 C unless stated):`);
  const device = [...fleet.devices()][0]!;
  const silicon = PufDevice.manufacture({ seed: 'bench/0' });
  show(
    'device.withKeys([enrolment]) = read + decode + HKDF + P-256 + import',
    await rate(() => device.withKeys(['enrolment'], async () => undefined)),
  );
  device.conditions = { temperatureC: 125, ageYears: 10 };
  show('  same at 125 C / 10 years', await rate(() => device.withKeys(['enrolment'], async () => undefined)));
  device.conditions = {};
  show(
    'device.withKeys([enrolment, tls-0]) (one read, two keys)',
    await rate(() => device.withKeys(['enrolment', 'tls-0'], async () => undefined)),
  );
  const data = new Uint8Array(200);
  show(
    'reconstruct + ECDSA sign (what answering a challenge costs)',
    await rate(() =>
      device.withKeys(['enrolment'], async (k) =>
        webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, k.get('enrolment')!.privateKey, data),
      ),
    ),
  );
  console.log('  breakdown:');
  show('  simulated PUF read only (cells regenerated from seed)', await rate(() => silicon.readResponse()));
  const retained = PufDevice.manufacture({ seed: 'bench/0', retainCellParameters: true });
  show('  simulated PUF read only (retained cell parameters, 16 B/cell)', await rate(() => retained.readResponse()));
  const record = await silicon.enrol();
  show(
    '  PufDevice.deriveKey (library, no device wrapper)',
    await rate(() => silicon.deriveKey({ purpose: 'enrolment' }, record.helperData)),
  );
  const ecdh = { name: 'ECDSA', namedCurve: 'P-256' } as const;
  const jwk = await webcrypto.subtle.exportKey(
    'jwk',
    (await webcrypto.subtle.generateKey(ecdh, true, ['sign'])).privateKey,
  );
  show(
    '  WebCrypto importKey(jwk, P-256 private) only',
    await rate(() => webcrypto.subtle.importKey('jwk', jwk, ecdh, false, ['sign'])),
  );
  if (fleet.size < 0) console.log('keep the fleet reachable until measured');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
