#!/usr/bin/env node
// The image's one command: `tunnelkey <service> [arguments]` runs that service's main in this
// process (PID 1 in a container: the service's own SIGTERM handling applies), so one image serves
// every Deployment. `tunnelkey --list` prints the table as JSON (the deployment tests read it).
import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Command name -> the built entry, relative to the repository (the image's /app). */
export const entries = {
  registry: 'services/registry/dist/main.js',
  ca: 'services/ca/dist/main.js',
  'ca-ceremony': 'services/ca/dist/ceremony/ceremony.main.js',
  onboarding: 'services/onboarding/dist/main.js',
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
  tunnelkey --list            the table of commands as JSON`;

async function run(argv) {
  const [command, ...rest] = argv;
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
