/**
 * A service's configuration as one schema: each setting's environment variable, default,
 * validation and documentation in one place. The same schema reads the environment and writes the
 * configuration table of the service's README, so the two cannot drift apart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { namespacePattern } from '@tunnelkey/contracts';
import { TypedError, type ErrorContext } from '@tunnelkey/errors';

export class ConfigError extends TypedError {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(message: string, context: ErrorContext & { variable: string }) {
    super(message, context);
  }
}

export type Env = Record<string, string | undefined>;

/** One setting. `parse` gets the raw value (never empty) and returns the value or throws a message. */
export interface Setting<T> {
  env: string;
  doc: string;
  /** Used when the variable is unset or empty; `undefined` makes the setting optional. */
  fallback: T;
  /** How the default reads in the README. */
  shownDefault: string;
  parse(raw: string): T;
  /** Never echoed in errors (a value that fails to parse is not quoted anyway). */
  secret?: boolean;
}

class InvalidValue extends Error {}
const invalid = (message: string): never => {
  throw new InvalidValue(message);
};

export const text = (env: string, fallback: string, doc: string): Setting<string> => ({
  env,
  doc,
  fallback,
  shownDefault: fallback === '' ? "'' (empty)" : `\`${fallback}\``,
  parse: (raw) => raw,
});

/** Unset means undefined (the service decides what that means, e.g. a secret from a file instead). */
export const optionalText = (
  env: string,
  doc: string,
  options: { secret?: boolean } = {},
): Setting<string | undefined> => ({
  env,
  doc,
  fallback: undefined,
  shownDefault: 'unset',
  parse: (raw) => raw,
  ...(options.secret ? { secret: true } : {}),
});

export const integer = (
  env: string,
  fallback: number,
  doc: string,
  range: { min?: number; max?: number } = {},
): Setting<number> => {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  return {
    env,
    doc,
    fallback,
    shownDefault: `\`${fallback}\``,
    parse: (raw) => {
      const value = Number(raw);
      return Number.isInteger(value) && value >= min && value <= max
        ? value
        : invalid(`must be an integer from ${min} to ${max}`);
    },
  };
};

/** One URL of `protocols`, without trailing slashes; throws a message naming what is wrong, never the value. */
function parseUrl(raw: string, protocols: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return invalid(`must be a URL (${protocols.join(', ')})`);
  }
  return protocols.includes(parsed.protocol.replace(/:$/, ''))
    ? raw.replace(/\/+$/, '')
    : invalid(`must be a ${protocols.join(' or ')} URL`);
}

export const url = (env: string, fallback: string, doc: string, protocols: readonly string[]): Setting<string> => ({
  env,
  doc,
  fallback,
  shownDefault: `\`${fallback}\``,
  parse: (raw) => parseUrl(raw, protocols),
});

/**
 * One URL or several separated by commas (the servers of a cluster: a client given all of them
 * can start and fail over whichever is down). The value is the list, normalised: `a,b,c`.
 */
export const urlList = (env: string, fallback: string, doc: string, protocols: readonly string[]): Setting<string> => ({
  env,
  doc,
  fallback,
  shownDefault: `\`${fallback}\``,
  parse: (raw) => {
    const urls = raw.split(',').map((part) => part.trim());
    if (urls.some((part) => part === '')) return invalid('must be URLs separated by commas, none empty');
    return urls.map((part) => parseUrl(part, protocols)).join(',');
  },
});

/** The URLs of a `urlList` value. */
export const urlsOf = (list: string): string[] => list.split(',');

export const oneOf = <const V extends string>(
  env: string,
  values: readonly V[],
  fallback: V,
  doc: string,
): Setting<V> => ({
  env,
  doc: `${doc} (${values.join(', ')})`,
  fallback,
  shownDefault: `\`${fallback}\``,
  parse: (raw) =>
    (values as readonly string[]).includes(raw) ? (raw as V) : invalid(`must be one of ${values.join(', ')}`),
});

/** The settings every service shares. */
export const common = {
  natsUrl: urlList(
    'NATS_URL',
    'nats://127.0.0.1:4222',
    'NATS server(s) with JetStream; a cluster: every server, separated by commas',
    ['nats', 'tls'],
  ),
  namespace: {
    ...text(
      'TUNNELKEY_NAMESPACE',
      '',
      'Prefix of streams, subjects and buckets: several deployments (or test runs) on one bus',
    ),
    parse: (raw: string) => (new RegExp(namespacePattern).test(raw) ? raw : invalid(`must match ${namespacePattern}`)),
  } satisfies Setting<string>,
  /** Every service's HTTP interface: loopback by default, `0.0.0.0` in a container (the image sets it). */
  httpHost: text(
    'HTTP_HOST',
    '127.0.0.1',
    'Interface the HTTP server (/health, /ready, /metrics) binds to; `0.0.0.0` in a container (the image sets it)',
  ),
  logLevel: oneOf(
    'LOG_LEVEL',
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    'info',
    "Level of the JSON logs (Nest's own lines included)",
  ),
};

export type ConfigOf<S> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

export interface ConfigSchema<S extends Record<string, Setting<unknown>>> {
  readonly settings: S;
  /** Reads and validates every setting; the first invalid one throws ConfigError naming the variable (never its value). */
  read(env?: Env): ConfigOf<S>;
  /** The README's configuration table (Markdown). */
  table(): string;
}

export function defineConfig<S extends Record<string, Setting<unknown>>>(settings: S): ConfigSchema<S> {
  return {
    settings,
    read(env: Env = process.env) {
      const config: Record<string, unknown> = {};
      for (const [key, setting] of Object.entries(settings)) {
        const raw = env[setting.env];
        if (raw === undefined || raw.trim() === '') {
          config[key] = setting.fallback;
          continue;
        }
        try {
          config[key] = setting.parse(raw.trim());
        } catch (error) {
          if (!(error instanceof InvalidValue)) throw error;
          throw new ConfigError(`${setting.env} ${error.message}`, { variable: setting.env });
        }
      }
      return config as ConfigOf<S>;
    },
    table() {
      const rows = Object.values(settings).map(
        (s) => `| \`${s.env}\` | ${s.shownDefault} | ${s.doc.replace(/\|/g, '\\|')} |`,
      );
      return ['| variable | default | what it sets |', '| --- | --- | --- |', ...rows].join('\n');
    },
  };
}

const begin = '<!-- configuration: generated from src/config.ts, `UPDATE_DOCS=1 npm run test:unit` rewrites it -->';
const end = '<!-- /configuration -->';

/**
 * The README's configuration section as it should read, and as it reads. With `write`, rewrites
 * it in place (between the two markers, which must be there).
 */
export function readmeConfigSection(
  readmePath: string,
  schema: { table(): string },
  options: { write?: boolean } = {},
): { expected: string; actual: string } {
  const readme = readFileSync(readmePath, 'utf8');
  const start = readme.indexOf(begin.slice(0, 40));
  const stop = readme.indexOf(end);
  const expected = `${begin}\n${schema.table()}\n${end}`;
  if (start < 0 || stop < 0) {
    if (options.write) writeFileSync(readmePath, `${readme.trimEnd()}\n\n## Configuration\n\n${expected}\n`);
    return { expected, actual: options.write ? expected : '' };
  }
  const actual = readme.slice(start, stop + end.length);
  if (options.write && actual !== expected)
    writeFileSync(readmePath, readme.slice(0, start) + expected + readme.slice(stop + end.length));
  return { expected, actual: options.write ? expected : actual };
}

export const configSectionMarkers = { begin, end };
