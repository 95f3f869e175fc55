/** Command-line options and the CPU profiler the e2e benches share. */
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

/** `--name N`: a positive integer, or the fallback when absent. */
export function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer`);
  return n;
}

/** `--profile DIR`: the directory (made when missing), or undefined without the option. */
export function profileDirectory(): string | undefined {
  const i = process.argv.indexOf('--profile');
  if (i < 0) return undefined;
  const dir = process.argv[i + 1];
  if (!dir) throw new Error('--profile needs a directory');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * `--profile DIR`: this process's main-thread CPU profile of each phase the bench names, in
 * DIR/<phase>.cpuprofile (Chrome DevTools). Without the option, starting a phase costs nothing.
 */
export async function profiler(): Promise<(phase: string) => Promise<() => Promise<void>>> {
  const dir = profileDirectory();
  if (!dir) return async () => async () => undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  return async (phase) => {
    await session.post('Profiler.start');
    return async () => {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(`${dir}/${phase}.cpuprofile`, JSON.stringify(profile));
    };
  };
}
