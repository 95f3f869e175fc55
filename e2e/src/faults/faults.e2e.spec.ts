/**
 * Issue 20's fault suite at CI size (`npm run faults` is the full one): a batch of
 * FAULTS_CI_DEVICES devices (default 100) through import, verify, certify, onboard and revoke, with
 * a fault in every phase, in two runs from nothing, then a third with two instances of each service,
 * one of them crashed for good in each phase it works in (the survivor finishes). Each fault hits as soon as its phase has
 * started (the phase's commands in flight). Every phase must complete with no operator action (the
 * operator's client sends a command again, same commandId, only when the answer is UNAVAILABLE), and
 * the independent reader of the log must find no device certified twice, no certificate after a
 * revocation, every request with its outcome, no revoked device connected.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allPhases, type Phase } from './fault-injection.js';
import { runFaultScenario, runPassed, type FaultPlan, type RunResult, type RunSettings } from './fault-run.js';
import { faultTable, runDetails } from './fault-table.js';

const devices = Number(process.env['FAULTS_CI_DEVICES'] ?? 100);
/** Every fault as soon as its phase started. */
const immediately = new Map<Phase, number>(allPhases.map((phase) => [phase, 0]));

/** A name, the fault in each phase, the instances of each service. */
const runs: [string, FaultPlan, number][] = [
  [
    'each service killed in turn',
    {
      import: 'registry-kill',
      verify: 'nats-kill',
      certify: 'ca-kill',
      onboard: 'onboarding-kill',
      revoke: 'revocation-kill',
    },
    1,
  ],
  [
    'the bus paused and killed, the broker killed',
    { verify: 'nats-pause', certify: 'registry-kill', onboard: 'broker-kill', revoke: 'nats-kill' },
    1,
  ],
  // Two instances of each service sharing the work; one of them crashed for good in a phase it works
  // in. Not onboarding in onboard: OnboardBatch's run lives in the memory of the instance that
  // answered it, and nothing takes it over (e2e/src/faults/README.md).
  [
    'two replicas, one of each crashed',
    { import: 'registry-kill', verify: 'registry-kill', certify: 'ca-kill', revoke: 'revocation-kill' },
    2,
  ],
];

describe(`fault suite, ${devices} devices`, () => {
  let settings: RunSettings;
  const results: RunResult[] = [];
  beforeAll(async () => {
    settings = {
      devices,
      gapMs: 500,
      // Longer than a publish's acknowledgement timeout (5 s): appends in flight time out.
      pauseMs: 6_000,
      phaseTimeoutMs: 60_000,
      commandTimeoutMs: 10_000,
      // The devices' keys in the fleet's own thread: the hardware worker threads run from the built
      // dist, which a test run on a fresh clone does not have (CI failed on it when no earlier test
      // happened to build it). 100 devices do not need them.
      hardwareThreads: 0,
      out: await mkdtemp(join(tmpdir(), 'tk-faults-ci-')),
    };
  });
  afterAll(() => {
    if (results.length) process.stderr.write(`${faultTable(settings, results, new Map())}${runDetails(results)}`);
  });

  it.each(runs)(
    '%s: every phase completes, every fault injected, the log holds',
    async (_name, plan, replicas) => {
      const result = await runFaultScenario({ ...settings, replicas }, results.length, plan, allPhases, immediately);
      results.push(result);
      expect(result.error).toBeUndefined();
      expect(result.phases.map((o) => [o.phase, o.completed, o.fault?.kind])).toEqual(
        allPhases.map((phase) => [phase, true, plan[phase]]),
      );
      expect(result.invariants?.violations).toEqual({
        'certified twice': [],
        'certificate after revocation': [],
        'revoked, not deprovisioned': [],
        'connected after deprovisioned': [],
        'request without outcome': [],
      });
      expect(result.revokedConnectedAfter).toBe(0);
      expect(result.commands.every((c) => c.answered)).toBe(true);
      expect(runPassed(result)).toBe(true);
    },
    170_000,
  );
});
