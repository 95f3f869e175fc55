// `npm run fuzz`: runs every fuzzing property (`*.fuzz.unit.spec.ts`) FUZZ_RUNS times (default
// 20,000 each) and prints, per property, the executions, the time and any counterexample found.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = process.env.FUZZ_RUNS ?? '20000';
const report = join(mkdtempSync(join(tmpdir(), 'fuzz-')), 'report.jsonl');
const started = Date.now();
const jest = spawnSync(
  process.execPath,
  [
    '--experimental-vm-modules',
    'node_modules/jest/bin/jest.js',
    '--testPathPatterns',
    '\\.fuzz\\.unit\\.spec\\.ts$',
    '--testTimeout',
    String(60 * 60 * 1000),
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', env: { ...process.env, FUZZ_RUNS: runs, FUZZ_REPORT: report } },
);
const lines = existsSync(report)
  ? readFileSync(report, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
  : [];
console.log(
  `\nfuzzing: ${lines.length} properties, FUZZ_RUNS=${runs}, ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
);
console.log('property'.padEnd(52), 'executions'.padStart(10), 'seconds'.padStart(8), ' outcome');
for (const line of lines) {
  console.log(
    line.name.padEnd(52),
    String(line.executions).padStart(10),
    (line.ms / 1000).toFixed(1).padStart(8),
    line.failed ? ` CRASH: ${line.counterexample}` : ' ok',
  );
}
const executions = lines.reduce((sum, line) => sum + line.executions, 0);
const failed = lines.filter((line) => line.failed).length;
console.log(`total: ${executions} executions, ${failed} properties with a counterexample`);
process.exit(jest.status ?? 1);
