import { appendFileSync } from 'node:fs';
import fc from 'fast-check';

/**
 * One way to run a fuzzing property. In the suite it runs `inSuite` times (default 200) so the
 * whole unit run stays fast; `npm run fuzz` sets FUZZ_RUNS to run every property much longer and
 * FUZZ_REPORT to a file where each property's executions, time and outcome are appended, one JSON
 * line each, for the script to print. A failure throws fast-check's report (seed, path and the
 * shrunk counterexample), so it can be replayed.
 */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>,
  options: { inSuite?: number } = {},
): Promise<void> {
  const requested = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : (options.inSuite ?? 200);
  if (!Number.isInteger(requested) || requested < 1) throw new Error(`FUZZ_RUNS must be a positive integer`);
  const started = performance.now();
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, { numRuns: requested });
  const ms = Math.round(performance.now() - started);
  if (process.env.FUZZ_REPORT) {
    const line = { name, executions: details.numRuns, skipped: details.numSkips, ms, failed: details.failed };
    appendFileSync(
      process.env.FUZZ_REPORT,
      `${JSON.stringify({ ...line, counterexample: details.failed ? fc.stringify(details.counterexample) : undefined })}\n`,
    );
  }
  if (details.failed) throw new Error(`${name}: ${fc.defaultReportMessage(details)}`);
}

/** Bytes derived from `valid` by one of the mutations an attacker or a broken link makes. */
export function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const n = valid.length;
  const flip = fc.tuple(fc.nat({ max: n - 1 }), fc.integer({ min: 0, max: 7 })).map(([at, bit]) => {
    const copy = valid.slice();
    copy[at]! ^= 1 << bit;
    return copy;
  });
  const overwrite = fc
    .tuple(fc.nat({ max: n - 1 }), fc.uint8Array({ minLength: 1, maxLength: 8 }))
    .map(([at, bytes]) => {
      const copy = valid.slice();
      copy.set(bytes.subarray(0, n - at), at);
      return copy;
    });
  const truncate = fc.nat({ max: n - 1 }).map((length) => valid.slice(0, length));
  const extend = fc.uint8Array({ minLength: 1, maxLength: 32 }).map((tail) => Uint8Array.from([...valid, ...tail]));
  const splice = fc
    .tuple(fc.nat({ max: n - 1 }), fc.nat({ max: 16 }), fc.uint8Array({ maxLength: 16 }))
    .map(([at, removed, inserted]) =>
      Uint8Array.from([...valid.subarray(0, at), ...inserted, ...valid.subarray(at + removed)]),
    );
  return fc.oneof(flip, flip, overwrite, truncate, extend, splice);
}
