/**
 * `npm run faults -- --devices 200 [--faults nats-kill,ca-kill] [--phases certify,onboard]`
 *
 * The fault suite (issue 20): does a batch get through import, verify, certify, onboard and revoke
 * with no operator action when a fault hits in the middle of a phase? The first run has no fault
 * (the baseline); then one run per fault, the fault injected in every phase it applies to (one cell
 * per phase: its own time to recover), each run from nothing (fault-run.ts) and checked afterwards
 * by an independent reader of the log (invariants.ts). `--run-per-cell`: one run per fault and
 * phase instead (each fault alone in its run; about five times as long: a run's set-up and its
 * fault-free phases are most of its time). Prints the fault x phase table (fault-table.ts); exits
 * 1 if a cell fails.
 *
 * Options: `--gap-ms` (default 2000) how long a killed process stays down; `--pause-ms` (default
 * 16000, longer than the JetStream API timeout of 15 s) how long nats-pause stops the server;
 * `--replicas 2` runs two instances of each service sharing the work, and a service kill crashes one
 * of them for good (the survivor must finish the phase); `--phase-timeout` (default 120) seconds a phase may take after the fault; `--command-timeout`
 * (default 10) seconds the operator's client waits for a command's answer before it sends the same
 * command again (a service killed with the command in hand never answers); `--out DIR` where the
 * services' logs go (pino, level LOG_LEVEL, default warn; default a temp dir, printed), and
 * `table.txt`, the table so far, after each run.
 */
import 'reflect-metadata';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { argument } from '../support/bench-options.js';
import { checkMosquitto } from '../support/infrastructure.js';
import { allFaults, allPhases, faultApplies, type Phase } from './fault-injection.js';
import { runFaultScenario, runPassed, type FaultPlan, type RunResult, type RunSettings } from './fault-run.js';
import { faultTable, runDetails } from './fault-table.js';

const log = (line = '') => process.stderr.write(`${line}\n`);

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

async function main(): Promise<boolean> {
  const out = textArgument('--out') ?? (await mkdtemp(join(tmpdir(), 'tk-faults-')));
  await mkdir(out, { recursive: true });
  const settings: RunSettings = {
    devices: argument('--devices', 200),
    gapMs: argument('--gap-ms', 2_000),
    pauseMs: argument('--pause-ms', 16_000),
    phaseTimeoutMs: argument('--phase-timeout', 120) * 1000,
    commandTimeoutMs: argument('--command-timeout', 10) * 1000,
    hardwareThreads: argument('--hardware-threads', Math.max(1, availableParallelism() - 1)),
    replicas: argument('--replicas', 1),
    out,
    log,
  };
  if (settings.devices < 2) throw new Error('--devices needs at least 2 (a main and a recalled batch)');
  if (settings.replicas !== 1 && settings.replicas !== 2) throw new Error('--replicas takes 1 or 2');
  const faults = listArgument('--faults', allFaults);
  const phases = listArgument('--phases', allPhases);
  // Every run goes through every phase: a fault's effects must not outlive its phase.
  const runPhases = allPhases;
  await checkMosquitto();
  log(
    `faults — ${settings.devices} devices, ${settings.replicas} instance(s) of each service, faults ${faults.join(',')}, phases ${phases.join(',')}; logs in ${out}`,
  );
  const results: RunResult[] = [];
  const baseline = new Map<Phase, number>();
  let index = 0;
  log(`run ${index}: baseline (no fault)`);
  const baseStarted = performance.now();
  const base = await runFaultScenario(settings, index++, {}, runPhases, baseline);
  log(`  run took ${((performance.now() - baseStarted) / 1000).toFixed(1)} s`);
  for (const o of base.phases) if (o.completed) baseline.set(o.phase, o.seconds);
  results.push(base);
  const plans: FaultPlan[] = [];
  for (const fault of faults) {
    const applies = phases.filter((phase) => faultApplies(fault, phase));
    if (process.argv.includes('--run-per-cell')) for (const phase of applies) plans.push({ [phase]: fault });
    else if (applies.length > 0) plans.push(Object.fromEntries(applies.map((phase) => [phase, fault])));
  }
  for (const plan of plans) {
    log(
      `run ${index}: ${Object.entries(plan)
        .map(([phase, fault]) => `${fault} during ${phase}`)
        .join(', ')}`,
    );
    const started = performance.now();
    results.push(await runFaultScenario(settings, index++, plan, runPhases, baseline));
    log(`  run took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // The table so far, for a suite cut short.
    await writeFile(join(out, 'table.txt'), faultTable(settings, results, baseline));
  }
  process.stdout.write(faultTable(settings, results, baseline));
  process.stdout.write(runDetails(results));
  return results.every(runPassed);
}

main().then(
  (passed) => process.exit(passed ? 0 : 1),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
