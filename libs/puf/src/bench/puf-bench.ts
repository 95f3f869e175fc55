/**
 * `npm run bench:puf [-- --devices N --seconds S]`: single-thread key reconstructions per second
 * and memory per idle simulated device. Run with --expose-gc for clean heap figures.
 */
import { parseHelperData } from '../extractor/helper-data.js';
import { recoverRootSecret } from '../extractor/fuzzy-extractor.js';
import { EnrolmentRecord, PufDevice } from '../device/puf-device.js';
import { tlsContext } from '../keys/key-context.js';
import { OperatingConditions } from '../simulation/operating-conditions.js';
import { PufProfileName } from '../simulation/puf-profiles.js';

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
const deviceCount = argument('devices', 10_000);
const seconds = argument('seconds', 2);
const gc = (globalThis as { gc?: () => void }).gc;
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

/**
 * Run `fn` repeatedly for ~`seconds` after a warm-up. Returns operations per CPU-second of this
 * process (the per-core figure, robust to other work sharing the machine) and per wall second.
 */
async function rate(fn: () => unknown, warmup = 300): Promise<{ perCpuSecond: number; perWallSecond: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  let ops = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) {
      const r = fn();
      if (r instanceof Promise) await r;
    }
    ops += 50;
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    perCpuSecond: ops / ((cpu.user + cpu.system) / 1e6),
    perWallSecond: ops / ((performance.now() - start) / 1000),
  };
}
const fmt = (r: { perCpuSecond: number; perWallSecond: number }) =>
  `${r.perCpuSecond.toFixed(0)} /s per core (CPU time; ${r.perWallSecond.toFixed(0)} /s wall)`;

function settle(): void {
  gc?.();
  gc?.();
}

async function main(): Promise<void> {
  console.log(`tunnelkey PUF bench (node ${process.version}, single thread${gc ? ', gc exposed' : ''})`);
  const corner: OperatingConditions = { temperatureC: 125, voltageDelta: 0, ageYears: 10 };
  for (const profile of ['sram', 'tunnelling'] as PufProfileName[]) {
    const device = PufDevice.manufacture({ seed: `bench/${profile}`, profile });
    const record = await device.enrol();
    const helper = parseHelperData(record.helperData);
    const nominalRead = device.readResponse();
    const cornerRead = device.readResponse(corner);
    console.log(`\n${profile} (${device.cellCount} cells):`);
    const rNominal = await rate(() => recoverRootSecret(nominalRead, helper).fill(0));
    const rCorner = await rate(() => recoverRootSecret(cornerRead, helper).fill(0));
    console.log(`  key reconstruction (response -> decode -> HKDF root + key check) at 25 C:       ${fmt(rNominal)}`);
    console.log(`  key reconstruction at 125 C / 10 y:                                           ${fmt(rCorner)}`);
    const readRegen = await rate(() => device.readResponse(corner), 50);
    const retained = PufDevice.manufacture({ seed: `bench/${profile}`, profile, retainCellParameters: true });
    const readRetained = await rate(() => retained.readResponse(corner), 50);
    console.log(`  simulated PUF read at 125 C/10 y, cells regenerated from seed: ${fmt(readRegen)}`);
    console.log(`  simulated PUF read at 125 C/10 y, retained cell parameters:   ${fmt(readRetained)}`);
    const derive = await rate(() => device.deriveKey(tlsContext(1), record.helperData, corner), 50);
    console.log(`  end-to-end deriveKey (read + reconstruct + P-256 + WebCrypto import): ${fmt(derive)}`);
  }

  console.log(`\nMemory per idle device (${deviceCount} sram devices, each with its enrolment record as flash):`);
  settle();
  const before = process.memoryUsage();
  const fleet: { device: PufDevice; flash: EnrolmentRecord }[] = [];
  for (let i = 0; i < deviceCount; i++) {
    const device = PufDevice.manufacture({ seed: `fleet/${i}` });
    fleet.push({ device, flash: await device.enrol() });
  }
  settle();
  const after = process.memoryUsage();
  const heapPer = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / deviceCount;
  const rssPer = (after.rss - before.rss) / deviceCount;
  console.log(
    `  heap+arrayBuffers delta ${mib(heapPer * deviceCount)} -> ${(heapPer / 1024).toFixed(2)} KiB/device; RSS delta ${mib(after.rss - before.rss)} -> ${(rssPer / 1024).toFixed(2)} KiB/device; RSS total ${mib(after.rss)}`,
  );
  console.log(`  projected for 10,000 devices: ${mib(Math.max(heapPer, rssPer) * 10_000)} (target <= 1 GiB)`);

  const retainedCount = Math.min(1000, deviceCount);
  settle();
  const beforeRetained = process.memoryUsage();
  const retainedFleet = Array.from({ length: retainedCount }, (_, i) =>
    PufDevice.manufacture({ seed: `fleet-retained/${i}`, retainCellParameters: true }),
  );
  settle();
  const afterRetained = process.memoryUsage();
  const retainedPer =
    (afterRetained.heapUsed + afterRetained.arrayBuffers - beforeRetained.heapUsed - beforeRetained.arrayBuffers) /
    retainedCount;
  console.log(
    `  with retained cell parameters (${retainedCount} devices): ${(retainedPer / 1024).toFixed(1)} KiB/device -> ${mib(retainedPer * 10_000)} for 10,000`,
  );
  // Keep both fleets reachable until measured.
  if (fleet.length + retainedFleet.length < 0) console.log('unreachable');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
