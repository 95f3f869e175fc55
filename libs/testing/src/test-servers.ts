/**
 * Which servers a test runs against: with a Docker engine that answers (a platform team's CI),
 * fresh ones started by testcontainers; without (this repository's CI), the ones on loopback
 * named by NATS_URL / MONGO_URL. The choice is a pure function of the environment and of whether
 * the engine answered, so it is unit-tested; the suite prints which it used.
 */
import { request as httpRequest } from 'node:http';
import { existsSync } from 'node:fs';

export type TestServerKind = 'nats' | 'mongodb';

export type TestServerChoice =
  | { kind: TestServerKind; via: 'testcontainers'; image: string; reason: string }
  | { kind: TestServerKind; via: 'loopback'; url: string; reason: string }
  | { kind: TestServerKind; via: 'none'; reason: string };

/** The images testcontainers starts (the versions docker-compose.yml runs). */
export const testServerImages: Readonly<Record<TestServerKind, string>> = {
  nats: 'nats:2.10.22-alpine',
  mongodb: 'mongo:7.0',
};

const urlVariable: Readonly<Record<TestServerKind, string>> = { nats: 'NATS_URL', mongodb: 'MONGO_URL' };
/** What is on loopback when the variable is unset: NATS is (the README's system packages), MongoDB is not. */
const loopbackDefault: Readonly<Record<TestServerKind, string | undefined>> = {
  nats: 'nats://127.0.0.1:4222',
  mongodb: undefined,
};

/**
 * testcontainers when the engine answered (unless TESTCONTAINERS=off), else the variable's URL,
 * else the loopback default, else none (the suite says why it skipped).
 */
export function chooseTestServer(
  kind: TestServerKind,
  env: Readonly<Record<string, string | undefined>>,
  dockerAnswered: boolean,
): TestServerChoice {
  const variable = urlVariable[kind];
  const off = ['off', '0', 'false'].includes((env['TESTCONTAINERS'] ?? '').trim().toLowerCase());
  if (dockerAnswered && !off)
    return { kind, via: 'testcontainers', image: testServerImages[kind], reason: 'a Docker engine answered' };
  const why = dockerAnswered ? 'TESTCONTAINERS=off' : 'no Docker engine answered';
  const url = env[variable]?.trim();
  if (url) return { kind, via: 'loopback', url, reason: `${why}; ${variable} is set` };
  const fallback = loopbackDefault[kind];
  if (fallback) return { kind, via: 'loopback', url: fallback, reason: `${why}; ${variable} unset, its default` };
  return { kind, via: 'none', reason: `${why} and ${variable} is not set` };
}

/** Where the Docker engine listens: DOCKER_HOST (unix:// or tcp://), else the default socket if present. */
export function dockerEndpoint(
  env: Readonly<Record<string, string | undefined>>,
  socketExists: (path: string) => boolean = existsSync,
): { socketPath: string } | { host: string; port: number } | undefined {
  const host = env['DOCKER_HOST']?.trim();
  if (host?.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host?.startsWith('tcp://')) {
    const url = new URL(`http://${host.slice('tcp://'.length)}`);
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  return socketExists('/var/run/docker.sock') ? { socketPath: '/var/run/docker.sock' } : undefined;
}

/** True when the engine answers its ping (`GET /_ping` -> `OK`) within `timeoutMs`. */
export async function dockerEngineAnswers(
  env: Readonly<Record<string, string | undefined>> = process.env,
  timeoutMs = 2_000,
): Promise<boolean> {
  const endpoint = dockerEndpoint(env);
  if (!endpoint) return false;
  return new Promise<boolean>((resolve) => {
    const request = httpRequest({ ...endpoint, path: '/_ping', method: 'GET', timeout: timeoutMs }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(response.statusCode === 200 && body.trim() === 'OK'));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
    request.end();
  });
}

export interface TestServer {
  readonly choice: TestServerChoice;
  /** Where to connect; undefined when there is none (`choice.via === 'none'`). */
  readonly url: string | undefined;
  stop(): Promise<void>;
}

/**
 * Chooses and, for testcontainers, starts the server (NATS with JetStream, MongoDB); prints the
 * choice on stderr (Jest keeps it even for a skipped file).
 */
export async function testServer(
  kind: TestServerKind,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<TestServer> {
  const choice = chooseTestServer(kind, env, await dockerEngineAnswers(env));
  process.stderr.write(`${describeChoice(choice)}\n`);
  if (choice.via !== 'testcontainers')
    return { choice, url: choice.via === 'loopback' ? choice.url : undefined, stop: async () => undefined };
  const { GenericContainer, Wait } = await import('testcontainers');
  const port = kind === 'nats' ? 4222 : 27017;
  const container = await new GenericContainer(choice.image)
    .withExposedPorts(port)
    .withCommand(kind === 'nats' ? ['-js'] : [])
    .withWaitStrategy(Wait.forLogMessage(kind === 'nats' ? /Server is ready/ : /Waiting for connections/))
    .start();
  const scheme = kind === 'nats' ? 'nats' : 'mongodb';
  return {
    choice,
    url: `${scheme}://${container.getHost()}:${container.getMappedPort(port)}`,
    stop: async () => {
      await container.stop();
    },
  };
}

export function describeChoice(choice: TestServerChoice): string {
  const what =
    choice.via === 'testcontainers'
      ? `testcontainers (${choice.image})`
      : choice.via === 'loopback'
        ? `loopback ${choice.url}`
        : 'none';
  return `${choice.kind}: ${what}: ${choice.reason}`;
}
