#!/usr/bin/env node
// The image's one command: `tunnelkey <service> [arguments]` runs that service's main in this
// process (PID 1 in a container: the service's own SIGTERM handling applies), so one image serves
// every Deployment. `tunnelkey --list` prints the table as JSON (the deployment tests read it).
/* global fetch, AbortSignal */
import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Command name -> the built entry, relative to the repository (the image's /app). */
export const entries = {
  registry: 'services/registry/dist/main.js',
  ca: 'services/ca/dist/main.js',
  'ca-ceremony': 'services/ca/dist/ceremony/ceremony.main.js',
  onboarding: 'services/onboarding/dist/main.js',
  'broker-agent': 'services/broker-agent/dist/main.js',
  revocation: 'services/revocation/dist/main.js',
  ota: 'services/ota/dist/main.js',
  gateway: 'services/gateway/dist/main.js',
  fleet: 'services/device-fleet/dist/main.js',
  cli: 'services/gateway/dist/cli/main.js',
};

const root = new URL('../../', import.meta.url);
const usage = `usage: tunnelkey <${Object.keys(entries).join('|')}> [arguments]
  tunnelkey registry          a platform service (configuration from the environment, see docs/deployment.md)
  tunnelkey cli --help        the operator CLI (tokens, imports, revocations) against a gateway
  tunnelkey healthcheck       exit 0 when this container's service answers /ready (compose health checks)
  tunnelkey --list            the table of commands as JSON`;

/**
 * The container's own health check (the image has no curl): /ready of the service on this host, at
 * HEALTHCHECK_PORT, else GATEWAY_PORT, else HTTP_PORT; HEALTHCHECK_PATH picks another path (/health).
 */
async function healthcheck(env) {
  const port = env.HEALTHCHECK_PORT || env.GATEWAY_PORT || env.HTTP_PORT;
  if (!port) {
    process.stderr.write('healthcheck: no HEALTHCHECK_PORT, GATEWAY_PORT or HTTP_PORT\n');
    return 1;
  }
  try {
    const response = await fetch(`http://127.0.0.1:${port}${env.HEALTHCHECK_PATH || '/ready'}`, {
      signal: AbortSignal.timeout(4_000),
    });
    if (!response.ok) process.stderr.write(`healthcheck: ${response.status} ${await response.text()}\n`);
    return response.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`healthcheck: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function run(argv) {
  const [command, ...rest] = argv;
  if (command === 'healthcheck') {
    process.exitCode = await healthcheck(process.env);
    return;
  }
  if (command === '--list') {
    process.stdout.write(`${JSON.stringify(entries)}\n`);
    return;
  }
  const entry = command ? entries[command] : undefined;
  if (!entry) {
    process.stderr.write(`${command && command !== '--help' ? `unknown command: ${command}\n` : ''}${usage}\n`);
    process.exitCode = command === '--help' ? 0 : 64;
    return;
  }
  // The service's main reads its own arguments (the fleet's, the CLI's) from process.argv.
  process.argv = [process.argv[0], fileURLToPath(new URL(entry, root)), ...rest];
  await import(new URL(entry, root).href);
}

const invokedAs = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
if (invokedAs === import.meta.url) await run(process.argv.slice(2));
