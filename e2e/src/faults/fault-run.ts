/**
 * One run of the fault suite (issue 20): everything fresh, the batch driven through its phases,
 * one fault (or none) injected in one phase, the log read back independently at the end.
 *
 * A run starts from nothing: its own nats-server with JetStream (a free port, its own store
 * directory: NatsProcess), the registry, the CA and onboarding in process (startPlatform, each
 * service on its own connection with the production connection options, as in a deployment), the
 * revocation service, a local Mosquitto, and the simulated fleet in two batches (the main batch and
 * a recalled batch, a tenth of the devices, that the revoke phase revokes with one RevokeBatch).
 * The fault is injected once the phase is ~30 % done (by the devices counted in the read models, or
 * after 30 % of the baseline's time for the phase, whichever comes first).
 *
 * The operator's client sends each command once, with one commandId; only when the answer is
 * UNAVAILABLE (nobody answered, or the service could not reach its store) does it send the same
 * command again, same commandId, as any client of an idempotent API does: never a new command, and
 * never a command again once it was answered. A phase completes when every device is in its expected
 * state (registry batch summary; the devices' own connection parameters; after the revocation, every
 * device of the main batch connected again); it fails `phaseTimeoutMs` after the fault, and the run stops there.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connectNats } from '@tunnelkey/config';
import { CertifyDevices, ImportIdentities, OnboardBatch, RevokeBatch, VerifyIdentity } from '@tunnelkey/contracts';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { CommandFailed } from '@tunnelkey/messaging';
import { startRevocation, type RunningRevocation } from '@tunnelkey/revocation';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { operator, startPlatform, type Platform } from '../support/platform.js';
import { faultApplies, inject, type Fault, type Phase } from './fault-injection.js';
import { checkInvariants, readLog, type InvariantReport } from './invariants.js';
import { NatsProcess } from './nats-process.js';

export interface RunSettings {
  devices: number;
  /** How long a killed process stays down. */
  gapMs: number;
  /** How long nats-pause stops the server. */
  pauseMs: number;
  phaseTimeoutMs: number;
  /** How long one send of a command waits for its answer before it is sent again (default 30 s). */
  commandTimeoutMs?: number;
  hardwareThreads: number;
  /**
   * Instances of each service (registry, CA, onboarding, revocation; default 1). With 2 they share
   * the work, and a service kill crashes one of them for good: the survivor must finish the phase
   * (the crashed one is started again, untimed, once the phase completed).
   */
  replicas?: number;
  /** Where each run's service log goes. */
  out: string;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface PhaseOutcome {
  phase: Phase;
  completed: boolean;
  /** Devices in their expected state when it completed or gave up, of `total`. */
  reached: number;
  total: number;
  seconds: number;
  /** The fault, if one was injected in this phase. */
  fault?: {
    kind: Fault;
    atProgress: number;
    atSeconds: number;
    /** From the fault to what it took away being back. */
    outageSeconds: number;
    /** From that moment to the phase completed. */
    recoverSeconds?: number;
    detail: string;
  };
}

export interface CommandOutcome {
  name: string;
  answered: boolean;
  /** Times it was sent (the same commandId each time). */
  attempts: number;
  error?: string;
}

/** The fault to inject in each phase (none in the others). */
export type FaultPlan = Partial<Record<Phase, Fault>>;

export interface RunResult {
  /** `none`, or the faults and their phases (`ca-kill during certify`). */
  label: string;
  faults: FaultPlan;
  devices: number;
  phases: PhaseOutcome[];
  commands: CommandOutcome[];
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One run: everything fresh, every phase in `phases` in turn, the plan's fault injected in its
 * phase. `baseline`: seconds each phase took without a fault (the fault hits after 30 % of it at the
 * latest; 0: as soon as the phase started).
 */
export async function runFaultScenario(
  settings: RunSettings,
  index: number,
  plan: FaultPlan,
  phases: readonly Phase[],
  baseline: ReadonlyMap<Phase, number>,
): Promise<RunResult> {
  const log = settings.log ?? (() => undefined);
  const planned = Object.entries(plan) as [Phase, Fault][];
  const label = planned.length ? planned.map(([phase, fault]) => `${fault} during ${phase}`).join(', ') : 'none';
  const fileLabel = planned.length ? planned.map(([phase, fault]) => `${fault}-${phase}`).join('-') : 'none';
  const logFile = join(settings.out, `run-${index}-${fileLabel}.log`);
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' }, pino.destination({ dest: logFile, sync: false }));
  const replicas = settings.replicas ?? 1;
  const result: RunResult = {
    label,
    faults: plan,
    devices: settings.devices,
    phases: [],
    commands: [],
    invariants: undefined,
    revokedConnectedAfter: 0,
    logFile,
  };
  for (const [phase, fault] of planned)
    if (!faultApplies(fault, phase)) throw new Error(`${fault} does not apply to the ${phase} phase`);
  let nats: NatsProcess | undefined;
  let nc: NatsConnection | undefined;
  let platform: Platform | undefined;
  const revocations: RunningRevocation[] = [];
  const batches: BatchUnderTest[] = [];
  const runStarted = performance.now();
  const since = (at: number) => `${((performance.now() - at) / 1000).toFixed(1)} s`;
  try {
    nats = await NatsProcess.start();
    const server = nats;
    const namespace = `faults${randomBytes(3).toString('hex')}`;
    // The fleet's and the harness's connection: reconnects for as long as the run lasts.
    nc = await connectNats({ servers: server.url, name: 'faults-harness', reconnectTimeWait: 250 });
    // Each service opens its own connection from its environment, with the production options.
    platform = await startPlatform({ envOf: () => ({ NATS_URL: server.url }), namespace, logger });
    const p = platform;
    const startRevocationNow = async () =>
      revocations.push(
        await startRevocation({ env: { NATS_URL: server.url }, namespace, logger, config: { httpPort: 0 } }),
      );
    for (let i = 0; i < replicas; i++) await startRevocationNow();
    for (let i = 1; i < replicas; i++)
      for (const service of ['registry', 'ca', 'onboarding'] as const) await p.addReplica(service);
    /** The first revocation instance crashes (its connection closed at once); a new one after `gapMs`, or none (`undefined`). */
    const crashRevocation = async (gapMs: number | undefined) => {
      const crashed = revocations.shift()!;
      await crashed.service.nats.close();
      await crashed.stop().catch(() => undefined);
      if (gapMs === undefined) return;
      await sleep(gapMs);
      await startRevocationNow();
    };
    /** Every service back to `replicas` instances (after a phase whose fault crashed one for good). */
    const restoreReplicas = async () => {
      for (const service of ['registry', 'ca', 'onboarding'] as const)
        while (p.instances(service) < replicas) await p.addReplica(service);
      while (revocations.length < replicas) await startRevocationNow();
    };
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
    const [main, recalled] = batches as [BatchUnderTest, BatchUnderTest];
    // Where a run's time goes: set-up (server, services, fleet manufactured), each phase, the log check.
    log(`  run ${index}: set up in ${since(runStarted)} (nats-server, services, ${settings.devices} devices made)`);
    const total = settings.devices;
    let phaseDeadline = Number.POSITIVE_INFINITY;

    /** One command, one commandId; sent again (same id) only while the answer is UNAVAILABLE. */
    const send = async (name: string, command: Parameters<Platform['send']>[0], payload: object) => {
      const outcome: CommandOutcome = { name, answered: false, attempts: 0 };
      result.commands.push(outcome);
      const commandId = randomUUID();
      for (let backoffMs = 500; ; backoffMs = Math.min(5_000, backoffMs * 2)) {
        outcome.attempts++;
        try {
          await p.send(command, { ...payload, commandId }, settings.commandTimeoutMs ?? 30_000);
          outcome.answered = true;
          delete outcome.error;
          return;
        } catch (error) {
          outcome.error = error instanceof Error ? error.message : String(error);
          if (!(error instanceof CommandFailed && error.code === 'UNAVAILABLE')) return;
          if (performance.now() + backoffMs > phaseDeadline) return;
          await sleep(backoffMs);
        }
      }
    };
    const status = (batch: BatchUnderTest, s: 'Verified' | 'Certified' | 'Revoked') =>
      p.registry.readModel.batchSummary(batch.batchId)?.byStatus[s] ?? 0;
    const sum = (f: (b: BatchUnderTest) => number) => batches.reduce((n, b) => n + f(b), 0);
    const linkEvents: { deviceId: string; type: string; at: number }[] = [];

    const drivers: Record<Phase, { total: number; start(): Promise<unknown>; progress(): number }> = {
      import: {
        total,
        // Ten chunks per batch (<= 2,500 rows each), one after the other.
        start: async () => {
          for (const b of batches) {
            const rows = JSON.parse(b.fleet.identityFile('json')) as unknown[];
            const chunk = Math.min(2_500, Math.max(1, Math.ceil(rows.length / 10)));
            for (let i = 0; i < rows.length; i += chunk)
              await send(`ImportIdentities ${b.batchId} rows ${i}-${i + chunk}`, ImportIdentities, {
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
              send(`VerifyIdentity ${b.batchId}`, VerifyIdentity, { scope: { kind: 'batch', batchId: b.batchId } }),
            ),
          ),
        progress: () => sum((b) => status(b, 'Verified')),
      },
      certify: {
        total,
        start: () =>
          Promise.all(
            batches.map((b) =>
              send(`CertifyDevices ${b.batchId}`, CertifyDevices, {
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
          Promise.all(batches.map((b) => send(`OnboardBatch ${b.batchId}`, OnboardBatch, { batchId: b.batchId }))),
        progress: () => sum((b) => b.fleet.stats().byState.configured),
      },
      revoke: {
        // The recalled devices revoked, and every device of the main batch connected (again, after a broker restart).
        total: recalled.size + main.size,
        start: () =>
          send(`RevokeBatch ${recalled.batchId}`, RevokeBatch, {
            batchId: recalled.batchId,
            reason: 'cessationOfOperation',
          }),
        progress: () => status(recalled, 'Revoked') + main.fleet.stats().mqtt.connected,
      },
    };

    for (const phase of phases) {
      // Untimed set-up a phase needs: the broker before onboarding; the fleet connected before revoking.
      const setUpStarted = performance.now();
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
      if (phase === 'onboard' || phase === 'revoke') log(`  run ${index}: ${phase} set up in ${since(setUpStarted)}`);
      const driver = drivers[phase];
      const started = performance.now();
      const outcome: PhaseOutcome = { phase, completed: false, reached: 0, total: driver.total, seconds: 0 };
      result.phases.push(outcome);
      phaseDeadline = started + settings.phaseTimeoutMs;
      const sending = driver.start();
      const injectAfterMs = 0.3 * (baseline.get(phase) ?? Number.POSITIVE_INFINITY) * 1000;
      const fault = plan[phase];
      let backAt: number | undefined;
      for (;;) {
        const reached = driver.progress();
        outcome.reached = reached;
        const now = performance.now();
        if (reached >= driver.total) {
          outcome.completed = true;
          break;
        }
        if (now > phaseDeadline) break;
        if (
          fault !== undefined &&
          outcome.fault === undefined &&
          (reached >= 0.3 * driver.total || now - started >= injectAfterMs)
        ) {
          const injected = await inject(
            fault,
            { nats: server, platform: p, crashRevocation },
            { gapMs: settings.gapMs, pauseMs: settings.pauseMs, replicas },
          );
          backAt = performance.now();
          outcome.fault = {
            kind: fault,
            atProgress: reached / driver.total,
            atSeconds: (now - started) / 1000,
            outageSeconds: injected.outageMs / 1000,
            detail: injected.detail,
          };
          log(`  run ${index}: ${fault} in ${phase} at ${reached}/${driver.total}: ${injected.detail}`);
          phaseDeadline = backAt + settings.phaseTimeoutMs;
        }
        await sleep(50);
      }
      outcome.seconds = (performance.now() - started) / 1000;
      if (outcome.fault && outcome.completed && backAt !== undefined)
        outcome.fault.recoverSeconds = (performance.now() - backAt) / 1000;
      // The phase's commands are answered (or given up) before the next phase.
      await Promise.race([sending, sleep(5_000)]);
      log(
        `  run ${index}: ${phase} ${outcome.completed ? 'completed' : 'FAILED'} ${outcome.reached}/${outcome.total} in ${outcome.seconds.toFixed(1)} s`,
      );
      if (!outcome.completed) break;
      await restoreReplicas();
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
    const checkStarted = performance.now();
    result.invariants = checkInvariants(await readLog(nc, namespace));
    log(`  run ${index}: log read and checked in ${since(checkStarted)}`);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    log(`  run ${index} ended early: ${result.error}`);
  } finally {
    for (const b of batches) await b.fleet.stop().catch(() => undefined);
    for (const r of revocations) await r.stop().catch(() => undefined);
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

/** A run passes when every phase completed and the log reader found nothing wrong. */
export function runPassed(result: RunResult): boolean {
  return (
    result.error === undefined &&
    result.phases.every((o) => o.completed) &&
    result.invariants !== undefined &&
    Object.values(result.invariants.violations).every((list) => list.length === 0) &&
    result.revokedConnectedAfter === 0
  );
}
