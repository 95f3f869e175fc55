/** A tunnelkey command as its own OS process (`node deploy/image/tunnelkey.mjs <command>`), as the image runs it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './deployment-files.js';

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Every line it wrote, stdout and stderr. */
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then its exit or 'still running' after `graceMs`. */
  terminate(graceMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'>;
  /** SIGKILL if it still runs (clean-up). */
  kill(): Promise<void>;
}

export function startProcess(
  args: readonly string[],
  env: Record<string, string>,
  onLine?: (line: string) => void,
): ServiceProcess {
  const child = spawn(process.execPath, [join(repoRoot, 'deploy/image/tunnelkey.mjs'), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop()!;
      for (const line of parts.filter(Boolean)) {
        lines.push(line);
        onLine?.(line);
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    lines,
    exited,
    async terminate(graceMs) {
      if (running()) child.kill('SIGTERM');
      return Promise.race([
        exited,
        new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), graceMs).unref()),
      ]);
    },
    async kill() {
      if (!running()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export { freePort } from '@tunnelkey/testing';

/** Polls until `check` holds or the deadline passes (a bounded positive wait). */
export async function eventually(check: () => Promise<boolean> | boolean, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}
