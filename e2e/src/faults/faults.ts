/**
 * `npm run faults -- --devices 200 --faults nats-kill --phases import,verify,certify,onboard,revoke`
 *
 * The fault suite (issue 20): does a batch get through import, verify, certify, onboard and revoke
 * with no operator action when a fault hits in the middle of a phase?
 *
 * Each run starts from nothing: its own nats-server with JetStream (a free port, its own store
 * directory: NatsProcess), the registry, the CA and onboarding in process (startPlatform, each
 * service on its own connection with the production connection options, as in a deployment), the
 * revocation service, a local Mosquitto, and the simulated fleet in two batches (the main batch and
 * a recalled batch, a tenth of the devices, that the revoke phase revokes with one RevokeBatch).
 * The first run has no fault (the baseline); then one run per fault and phase, with the fault
 * injected once the phase is ~30 % done (by the devices counted in the read models, or after 30 %
 * of the baseline's time for the phase, whichever comes first). No command is ever sent twice: a
 * command whose reply is lost stays lost. A phase completes when every device is in its expected
 * state (registry batch summary, the devices' own connection parameters); it fails after
 * `--phase-timeout` seconds (default 120) from the fault, and the run stops there.
 *
 * After each run an independent reader replays the run's streams from the store (invariants.ts).
 *
 * Faults (one so far):
 * - nats-kill: SIGKILL of the nats-server, restarted on the same store after `--gap-ms` (default 2000).
 *
 * Services' logs (pino, level LOG_LEVEL, default warn) go to `<out>/run-<n>-<fault>-<phase>.log`
 * (`--out DIR`, default a temp dir, printed).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '@tunnelkey/config';
import { CertifyDevices, ImportIdentities, OnboardBatch, RevokeBatch, VerifyIdentity } from '@tunnelkey/contracts';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { startRevocation, type RunningRevocation } from '@tunnelkey/revocation';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { argument } from '../support/bench-options.js';
import { checkMosquitto } from '../support/infrastructure.js';
import { operator, startPlatform, type Platform } from '../support/platform.js';
import { checkInvariants, readLog, summariseInvariants, type InvariantReport } from './invariants.js';
import { NatsProcess } from './nats-process.js';

const log = (line = '') => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const allPhases = ['import', 'verify', 'certify', 'onboard', 'revoke'] as const;
type Phase = (typeof allPhases)[number];
const allFaults = ['nats-kill'] as const;
type Fault = (typeof allFaults)[number];

/** `--name a,b`: the listed values (each one of `allowed`), or all of them. */
function listArgument<T extends string>(name: string, allowed: readonly T[]): T[] {
  const i = process.argv.indexOf(name);
  if (i < 0) return [...allowed];
  const values = (process.argv[i + 1] ?? '').split(',').filter(Boolean);
  const unknown = values.filter((v) => !allowed.includes(v as T));
  if (values.length === 0 || unknown.length > 0)
    throw new Error(`${name} takes a comma-separated list of ${allowed.join(', ')}`);
  return values as T[];
}

function textArgument(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

interface Settings {
  devices: number;
  gapMs: number;
  phaseTimeoutMs: number;
  hardwareThreads: number;
  out: string;
}

interface PhaseOutcome {
  phase: Phase;
  completed: boolean;
  /** Devices in their expected state when it completed or gave up, of `total`. */
  reached: number;
  total: number;
  seconds: number;
  /** The fault, if one was injected in this phase. */
  fault?: { atProgress: number; atSeconds: number; recoverSeconds?: number; detail: string };
}

interface RunResult {
  fault: Fault | 'none';
  faultPhase: Phase | undefined;
  phases: PhaseOutcome[];
  commands: { name: string; answered: boolean; error?: string }[];
  invariants: InvariantReport | undefined;
  /** Recalled devices the fleet saw connect after the revoke phase completed. */
  revokedConnectedAfter: number;
  logFile: string;
  error?: string;
}

interface BatchUnderTest {
  batchId: string;
  size: number;
  fleet: Fleet;
}

/** One run: everything fresh, every phase in turn, `fault` injected in `faultPhase`. */
async function run(
  settings: Settings,
  index: number,
  fault: Fault | 'none',
  faultPhase: Phase | undefined,
  phases: readonly Phase[],
  baseline: ReadonlyMap<Phase, number>,
): Promise<RunResult> {
  const logFile = join(settings.out, `run-${index}-${fault}${faultPhase ? `-${faultPhase}` : ''}.log`);
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' }, pino.destination({ dest: logFile, sync: false }));
  const result: RunResult = {
    fault,
    faultPhase,
    phases: [],
    commands: [],
    invariants: undefined,
    revokedConnectedAfter: 0,
    logFile,
  };
  let nats: NatsProcess | undefined;
  let nc: NatsConnection | undefined;
  let platform: Platform | undefined;
  let revocation: RunningRevocation | undefined;
  const batches: BatchUnderTest[] = [];
  try {
    nats = await NatsProcess.start();
    const server = nats;
    const namespace = `faults${randomBytes(3).toString('hex')}`;
    // The fleet's and the harness's connection: reconnects for as long as the run lasts.
    nc = await connectNats({
      servers: server.url,
      name: 'faults-harness',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    // Each service opens its own connection from its environment, with the production options.
    platform = await startPlatform({ envOf: () => ({ NATS_URL: server.url }), namespace, logger });
    const p = platform;
    revocation = await startRevocation({ env: { NATS_URL: server.url }, namespace, logger, config: { httpPort: 0 } });
    const recalledSize = Math.max(1, Math.round(settings.devices / 10));
    const run = randomBytes(3).toString('hex');
    for (const [batchId, size] of [
      [`main-${run}`, settings.devices - recalledSize],
      [`recalled-${run}`, recalledSize],
    ] as const) {
      const fleet = await createFleet({
        nats: nc,
        namespace,
        size,
        seedBase: `faults-${batchId}`,
        platformPublicKey: p.platformPublicKeySpki,
        hardwareThreads: settings.hardwareThreads,
      });
      batches.push({ batchId, size, fleet });
      await operator.defineBatch(p, batchId, size);
    }
    const recalled = batches[1]!;
    const total = settings.devices;

    /** Sends a command once, never again; the reply (or its loss) is recorded. */
    const sendOnce = async (name: string, command: Parameters<Platform['send']>[0], payload: object) => {
      try {
        await p.send(command, payload, 120_000);
        result.commands.push({ name, answered: true });
        return true;
      } catch (error) {
        result.commands.push({ name, answered: false, error: error instanceof Error ? error.message : String(error) });
        return false;
      }
    };
    const status = (batch: BatchUnderTest, s: 'Verified' | 'Certified' | 'Revoked') =>
      p.registry.readModel.batchSummary(batch.batchId)?.byStatus[s] ?? 0;
    const sum = (f: (b: BatchUnderTest) => number) => batches.reduce((n, b) => n + f(b), 0);
    const linkEvents: { deviceId: string; type: string; at: number }[] = [];

    const drivers: Record<Phase, { total: number; start(): Promise<unknown>; progress(): number }> = {
      import: {
        total,
        // Ten chunks per batch (<= 2,500 rows each), one after the other, each sent once.
        start: async () => {
          for (const b of batches) {
            const rows = JSON.parse(b.fleet.identityFile('json')) as unknown[];
            const chunk = Math.min(2_500, Math.max(1, Math.ceil(rows.length / 10)));
            for (let i = 0; i < rows.length; i += chunk)
              await sendOnce(`ImportIdentities ${b.batchId} rows ${i}-${i + chunk}`, ImportIdentities, {
                batchId: b.batchId,
                importId: `import-${i}`,
                source: { format: 'json', rows: rows.slice(i, i + chunk) },
              });
          }
        },
        progress: () => sum((b) => p.registry.readModel.batchSummary(b.batchId)?.devices ?? 0),
      },
      verify: {
        total,
        start: () =>
          Promise.all(
            batches.map((b) =>
              sendOnce(`VerifyIdentity ${b.batchId}`, VerifyIdentity, { scope: { kind: 'batch', batchId: b.batchId } }),
            ),
          ),
        progress: () => sum((b) => status(b, 'Verified')),
      },
      certify: {
        total,
        start: () =>
          Promise.all(
            batches.map((b) =>
              sendOnce(`CertifyDevices ${b.batchId}`, CertifyDevices, {
                scope: { kind: 'batch', batchId: b.batchId },
                keyId: 'tls-0',
              }),
            ),
          ),
        progress: () => sum((b) => status(b, 'Certified')),
      },
      onboard: {
        total,
        start: () =>
          Promise.all(batches.map((b) => sendOnce(`OnboardBatch ${b.batchId}`, OnboardBatch, { batchId: b.batchId }))),
        progress: () => sum((b) => b.fleet.stats().byState.configured),
      },
      revoke: {
        total: recalled.size,
        start: () =>
          sendOnce(`RevokeBatch ${recalled.batchId}`, RevokeBatch, {
            batchId: recalled.batchId,
            reason: 'cessationOfOperation',
          }),
        progress: () => status(recalled, 'Revoked'),
      },
    };

    for (const phase of phases) {
      // Untimed set-up a phase needs: the broker before onboarding; the fleet connected before revoking.
      if (phase === 'onboard') {
        await p.startBroker();
        await operator.registerBroker(p);
      }
      if (phase === 'revoke') {
        for (const b of batches)
          b.fleet.connect({
            telemetryIntervalMs: 30_000,
            concurrency: 32,
            onEvent: (e) => void linkEvents.push({ deviceId: e.deviceId, type: e.type, at: e.at }),
          });
        const deadline = Date.now() + settings.phaseTimeoutMs;
        while (sum((b) => b.fleet.stats().mqtt.connected) < total && Date.now() < deadline) await sleep(200);
      }
      const driver = drivers[phase];
      const started = performance.now();
      const outcome: PhaseOutcome = { phase, completed: false, reached: 0, total: driver.total, seconds: 0 };
      result.phases.push(outcome);
      const sending = driver.start();
      let deadline = started + settings.phaseTimeoutMs;
      const injectAfterMs = 0.3 * (baseline.get(phase) ?? Number.POSITIVE_INFINITY) * 1000;
      let faultAt: number | undefined;
      for (;;) {
        const reached = driver.progress();
        outcome.reached = reached;
        const now = performance.now();
        if (reached >= driver.total) {
          outcome.completed = true;
          break;
        }
        if (now > deadline) break;
        if (
          fault !== 'none' &&
          phase === faultPhase &&
          faultAt === undefined &&
          (reached >= 0.3 * driver.total || now - started >= injectAfterMs)
        ) {
          faultAt = performance.now();
          const detail = await inject(fault, server, settings);
          outcome.fault = { atProgress: reached / driver.total, atSeconds: (faultAt - started) / 1000, detail };
          log(`  run ${index}: ${fault} in ${phase} at ${reached}/${driver.total}: ${detail}`);
          deadline = faultAt + settings.phaseTimeoutMs;
        }
        await sleep(50);
      }
      outcome.seconds = (performance.now() - started) / 1000;
      if (outcome.fault && outcome.completed && faultAt !== undefined)
        outcome.fault.recoverSeconds = (performance.now() - faultAt) / 1000;
      // The phase's commands are answered (or lost) before the next phase: none is outstanding.
      await Promise.race([sending, sleep(5_000)]);
      log(
        `  run ${index}: ${phase} ${outcome.completed ? 'completed' : 'FAILED'} ${outcome.reached}/${outcome.total} in ${outcome.seconds.toFixed(1)} s`,
      );
      if (!outcome.completed) break;
    }
    // Revoked devices the fleet saw connect after the revocation completed (what the broker let in).
    const revokePhase = result.phases.find((o) => o.phase === 'revoke' && o.completed);
    if (revokePhase) {
      await sleep(3_000);
      const recalledIds = new Set([...recalled.fleet.devices()].map((d) => d.deviceId));
      const completedAt = Date.now() - 3_000;
      result.revokedConnectedAfter = new Set(
        linkEvents
          .filter((e) => e.type === 'connected' && recalledIds.has(e.deviceId) && e.at > completedAt)
          .map((e) => e.deviceId),
      ).size;
    }
    // The independent reader: every stream of the run, replayed from the store.
    await waitForServer(server);
    result.invariants = checkInvariants(await readLog(nc, namespace));
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    log(`  run ${index} ended early: ${result.error}`);
  } finally {
    for (const b of batches) await b.fleet.stop().catch(() => undefined);
    await revocation?.stop().catch(() => undefined);
    await platform?.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    logger.flush();
  }
  return result;
}

/** The NATS server answers again (it may be restarting after a fault). */
async function waitForServer(server: NatsProcess): Promise<void> {
  for (let i = 0; i < 100 && !server.running; i++) await sleep(100);
}

async function inject(fault: Fault, server: NatsProcess, settings: Settings): Promise<string> {
  switch (fault) {
    case 'nats-kill': {
      await server.signal('SIGKILL');
      await sleep(settings.gapMs);
      const restarting = performance.now();
      await server.restart();
      return `SIGKILL, ${settings.gapMs} ms down, restarted on the same store in ${((performance.now() - restarting) / 1000).toFixed(1)} s`;
    }
  }
}

const seconds = (n: number | undefined) => (n === undefined ? '-' : n.toFixed(1));

function table(settings: Settings, results: RunResult[], baseline: ReadonlyMap<Phase, number>): string {
  const lines = [
    '',
    `faults — ${settings.devices} devices (${settings.devices - Math.max(1, Math.round(settings.devices / 10))} main + ${Math.max(1, Math.round(settings.devices / 10))} recalled), ${availableParallelism()} cores, node ${process.version}, gap ${settings.gapMs} ms, phase timeout ${settings.phaseTimeoutMs / 1000} s`,
    `  ${'fault'.padEnd(10)} ${'phase'.padEnd(8)} ${'fault at'.padEnd(16)} ${'completed'.padEnd(16)} ${'phase s'.padStart(8)} ${'recover s'.padStart(9)} ${'baseline s'.padStart(10)}  ${'commands answered'.padEnd(17)}  invariants (whole run)`,
  ];
  for (const r of results) {
    const o = r.faultPhase ? r.phases.find((x) => x.phase === r.faultPhase) : undefined;
    const rows = r.fault === 'none' ? r.phases : o ? [o] : [];
    const answered = `${r.commands.filter((c) => c.answered).length}/${r.commands.length}`;
    const laterFailed = r.phases.find((x) => !x.completed && x !== o);
    const invariants = r.invariants
      ? summariseInvariants(r.invariants)
      : `not checked (${r.error ?? 'run ended early'})`;
    const extra = [
      laterFailed ? `later phase ${laterFailed.phase} FAILED ${laterFailed.reached}/${laterFailed.total}` : '',
      r.revokedConnectedAfter ? `${r.revokedConnectedAfter} revoked devices connected after revocation` : '',
      r.error && r.invariants ? `error: ${r.error}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    if (rows.length === 0)
      lines.push(
        `  ${r.fault.padEnd(10)} ${(r.faultPhase ?? '-').padEnd(8)} ${'not reached'.padEnd(16)} ${''.padEnd(16)} ${''.padStart(8)} ${''.padStart(9)} ${''.padStart(10)}  ${answered.padEnd(17)}  ${invariants}${extra ? `; ${extra}` : ''}`,
      );
    for (const x of rows) {
      const faultAt = x.fault ? `${(100 * x.fault.atProgress).toFixed(0)}% / ${x.fault.atSeconds.toFixed(1)} s` : '-';
      const completed = x.completed ? 'yes' : `FAIL ${x.reached}/${x.total}`;
      lines.push(
        `  ${r.fault.padEnd(10)} ${x.phase.padEnd(8)} ${faultAt.padEnd(16)} ${completed.padEnd(16)} ${seconds(x.seconds).padStart(8)} ${seconds(x.fault?.recoverSeconds).padStart(9)} ${seconds(baseline.get(x.phase)).padStart(10)}  ${answered.padEnd(17)}  ${r.fault === 'none' && x !== rows[0] ? '' : invariants}${extra && (r.fault !== 'none' || x === rows[0]) ? `; ${extra}` : ''}`,
      );
    }
  }
  lines.push(
    '  fault at: progress of the phase (devices in their expected state) / seconds into the phase when the fault was injected',
    '  recover s: from the fault to the phase completed; phase s: the whole phase; baseline s: the same phase in the run without a fault',
    '  commands answered: operator commands of the run whose reply arrived (each is sent once, never again)',
    "  invariants: the independent reader of the run's streams (no double certificate, none after revocation, revoked devices deprovisioned and not connected, every request with its outcome)",
    '',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const out = textArgument('--out') ?? (await mkdtemp(join(tmpdir(), 'tk-faults-')));
  await mkdir(out, { recursive: true });
  const settings: Settings = {
    devices: argument('--devices', 200),
    gapMs: argument('--gap-ms', 2_000),
    phaseTimeoutMs: argument('--phase-timeout', 120) * 1000,
    hardwareThreads: argument('--hardware-threads', Math.max(1, availableParallelism() - 1)),
    out,
  };
  if (settings.devices < 2) throw new Error('--devices needs at least 2 (a main and a recalled batch)');
  const faults = listArgument('--faults', allFaults);
  const phases = listArgument('--phases', allPhases);
  // Phases run in their order; a later phase needs the earlier ones, so the run goes up to the last one listed.
  const last = Math.max(...phases.map((p) => allPhases.indexOf(p)));
  const runPhases = allPhases.slice(0, last + 1);
  await checkMosquitto();
  log(`faults — ${settings.devices} devices, faults ${faults.join(',')}, phases ${phases.join(',')}; logs in ${out}`);
  const results: RunResult[] = [];
  const baseline = new Map<Phase, number>();
  let index = 0;
  log(`run ${index}: baseline (no fault)`);
  const base = await run(settings, index++, 'none', undefined, runPhases, baseline);
  for (const o of base.phases) if (o.completed) baseline.set(o.phase, o.seconds);
  results.push(base);
  for (const fault of faults)
    for (const phase of phases) {
      log(`run ${index}: ${fault} during ${phase}`);
      results.push(await run(settings, index++, fault, phase, runPhases, baseline));
    }
  process.stdout.write(table(settings, results, baseline));
  for (const r of results) {
    const lost = r.commands.filter((c) => !c.answered);
    const details = [
      ...(r.invariants
        ? [
            `    log: ${r.invariants.events} events; devices ${Object.entries(r.invariants.devicesInLog)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ')}`,
          ]
        : []),
      ...lost.map((c) => `    reply lost: ${c.name}: ${c.error}`),
      ...Object.entries(r.invariants?.violations ?? {}).flatMap(([k, l]) =>
        l.slice(0, 3).map((v) => `    ${k}: ${v}${l.length > 3 ? ` (and ${l.length - 3} more)` : ''}`),
      ),
    ];
    process.stdout.write(
      `  run ${r.fault}${r.faultPhase ? ` during ${r.faultPhase}` : ''} (${r.logFile}):\n${details.join('\n')}\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
