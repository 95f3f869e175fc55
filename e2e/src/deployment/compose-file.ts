/** docker-compose.yml as Compose reads it: merge keys resolved, `${VAR:-default}` / `${VAR:?message}` interpolated. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './deployment-files.js';

export interface ComposeService {
  image?: string;
  command?: string[];
  user?: string;
  ports?: string[];
  profiles?: string[];
  network_mode?: string;
  pid?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

/** Compose's interpolation of the variables the file names (what --env-file supplies). */
export function interpolate(text: string, env: Record<string, string>): { text: string; missing: string[] } {
  const missing: string[] = [];
  const out = text.replace(
    /\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g,
    (_all, name: string, kind?: string, rest?: string) => {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (kind === '-') return rest ?? '';
      if (kind === '?') missing.push(name);
      return '';
    },
  );
  return { text: out, missing };
}

export function readComposeFile(env: Record<string, string>): { compose: ComposeFile; missing: string[] } {
  const raw = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
  const { text, missing } = interpolate(raw, env);
  return { compose: parse(text, { merge: true }) as ComposeFile, missing };
}

/** The variables deploy/compose/prepare.sh writes to compose.env. */
export function preparedVariables(): Record<string, string> {
  const script = readFileSync(join(repoRoot, 'deploy/compose/prepare.sh'), 'utf8');
  const users = /for user in ([a-z_ ]+); do/.exec(script)![1]!.trim().split(/\s+/);
  return {
    TUNNELKEY_VERSION: '0.1.0',
    TRUSTED_ROOT_SHA256: '',
    ...Object.fromEntries(users.map((u) => [`NATS_${u.toUpperCase()}_PASSWORD`, `p${u}0123456789abcdef`])),
  };
}
