/** The fault suite's report: the fault x phase table, then what each run left in its log. */
import { availableParallelism } from 'node:os';
import type { Fault, Phase } from './fault-injection.js';
import { runPassed, type RunResult, type RunSettings } from './fault-run.js';
import { summariseInvariants } from './invariants.js';

const seconds = (n: number | undefined) => (n === undefined ? '-' : n.toFixed(1));

export function faultTable(
  settings: Pick<RunSettings, 'devices' | 'gapMs' | 'pauseMs' | 'phaseTimeoutMs' | 'replicas'>,
  results: readonly RunResult[],
  baseline: ReadonlyMap<Phase, number>,
): string {
  const recalled = Math.max(1, Math.round(settings.devices / 10));
  const lines = [
    '',
    `faults — ${settings.devices} devices (${settings.devices - recalled} main + ${recalled} recalled), ${settings.replicas ?? 1} instance(s) of each service, ${availableParallelism()} cores, node ${process.version}, gap ${settings.gapMs} ms, pause ${settings.pauseMs} ms, phase timeout ${settings.phaseTimeoutMs / 1000} s`,
    `  ${'fault'.padEnd(15)} ${'phase'.padEnd(8)} ${'fault at'.padEnd(13)} ${'outage s'.padStart(8)} ${'recover s'.padStart(9)} ${'baseline s'.padStart(10)}  ${'completed'.padEnd(14)} ${'commands'.padEnd(13)} ${'pass'.padEnd(4)}  invariants (whole run)`,
  ];
  for (const r of results) {
    const planned = Object.entries(r.faults) as [Phase, Fault][];
    const noFault = planned.length === 0;
    const rows = noFault ? r.phases : r.phases.filter((x) => r.faults[x.phase]);
    const answered = r.commands.filter((c) => c.answered).length;
    const resent = r.commands.reduce((n, c) => n + c.attempts - 1, 0);
    const commands = `${answered}/${r.commands.length}${resent ? ` +${resent}` : ''}`;
    const laterFailed = r.phases.find((x) => !x.completed && !rows.includes(x));
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
    const pass = runPassed(r) ? 'yes' : 'NO';
    for (const [phase, fault] of planned.filter(([phase]) => !r.phases.some((x) => x.phase === phase)))
      lines.push(
        `  ${fault.padEnd(15)} ${phase.padEnd(8)} ${'not reached'.padEnd(13)} ${''.padStart(8)} ${''.padStart(9)} ${''.padStart(10)}  ${''.padEnd(14)} ${commands.padEnd(13)} ${pass.padEnd(4)}  ${invariants}${extra ? `; ${extra}` : ''}`,
      );
    for (const x of rows) {
      const first = x === rows[0];
      const faultAt = x.fault ? `${(100 * x.fault.atProgress).toFixed(0)}% ${x.fault.atSeconds.toFixed(1)} s` : '-';
      const completed = x.completed ? `yes ${seconds(x.seconds)} s` : `FAIL ${x.reached}/${x.total}`;
      const recover = x.fault ? seconds(x.fault.recoverSeconds) : noFault ? seconds(x.seconds) : '-';
      lines.push(
        `  ${(r.faults[x.phase] ?? 'none').padEnd(15)} ${x.phase.padEnd(8)} ${faultAt.padEnd(13)} ${seconds(x.fault?.outageSeconds).padStart(8)} ${recover.padStart(9)} ${seconds(baseline.get(x.phase)).padStart(10)}  ${completed.padEnd(14)} ${(first ? commands : '').padEnd(13)} ${(first ? pass : '').padEnd(4)}  ${first ? invariants : ''}${extra && first ? `; ${extra}` : ''}`,
      );
    }
  }
  lines.push(
    '  fault at: progress of the phase (devices in their expected state) and seconds into it when the fault hit',
    '  outage s: from the fault to what it took away being back (NATS restarted or resumed, the service ready again, the broker restarted)',
    '  recover s: from then to the phase completed (every device in its expected state); baseline s: the same phase in the run without a fault',
    '  completed: the whole phase, fault included; commands: operator commands answered / sent, +N sent again with the same commandId after UNAVAILABLE',
    '  pass: every phase completed, the independent log reader found no violation, no revoked device connected after the revocation',
    "  invariants: the reader of the run's streams (no double certificate, none after revocation, revoked devices deprovisioned and not connected, every request with its outcome)",
    '',
  );
  return lines.join('\n');
}

/** Per run: the log's device counts, commands not answered, the first violations. */
export function runDetails(results: readonly RunResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    const details = [
      ...(r.invariants
        ? [
            `    log: ${r.invariants.events} events; devices ${Object.entries(r.invariants.devicesInLog)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ')}`,
          ]
        : []),
      ...r.commands
        .filter((c) => !c.answered || c.attempts > 1)
        .map(
          (c) =>
            `    ${c.answered ? 'answered' : 'NOT answered'} after ${c.attempts} sends: ${c.name}${c.answered ? '' : `: ${c.error}`}`,
        ),
      ...Object.entries(r.invariants?.violations ?? {}).flatMap(([k, l]) =>
        l.slice(0, 3).map((v) => `    ${k}: ${v}${l.length > 3 ? ` (and ${l.length - 3} more)` : ''}`),
      ),
    ];
    out.push(`  run ${r.label} (${r.logFile}):`, ...details);
  }
  return `${out.join('\n')}\n`;
}
