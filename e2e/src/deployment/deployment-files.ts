/** Reading the deployment files (Dockerfile, the image's dispatcher) for the offline deployment tests. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface DockerCopy {
  /** `--from=<stage>`, if any. */
  from?: string;
  sources: string[];
  target: string;
}

export interface DockerStage {
  name: string;
  from: string;
  body: string;
  copies: DockerCopy[];
}

/** The Dockerfile's stages with their COPY instructions (continuation lines joined). */
export function dockerfileStages(dockerfile: string): DockerStage[] {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      stages.push({ name: from[2] ?? String(stages.length), from: from[1]!, body: '', copies: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) continue;
    stage.body += `${line}\n`;
    const copy = /^COPY\s+(.*)$/i.exec(line.trim());
    if (!copy) continue;
    const words = copy[1]!.split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const paths = words.filter((w) => !w.startsWith('--'));
    const fromFlag = flags.find((f) => f.startsWith('--from='));
    stage.copies.push({
      ...(fromFlag ? { from: fromFlag.slice('--from='.length) } : {}),
      sources: paths.slice(0, -1),
      target: paths.at(-1)!,
    });
  }
  return stages;
}

/** `tunnelkey --list`: the image's command table, from the dispatcher itself. */
export function dispatchEntries(): Record<string, string> {
  const out = execFileSync(process.execPath, ['deploy/image/tunnelkey.mjs', '--list'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return JSON.parse(out) as Record<string, string>;
}
