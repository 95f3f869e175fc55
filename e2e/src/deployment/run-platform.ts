/**
 * `npm run platform`: the whole platform as separate OS processes from the built output, each
 * configured only by its environment as it would be in a pod (platform-processes.ts), on NATS_URL,
 * with a Mosquitto registered as target `broker-1`. Prints where everything is and the admin
 * token; Ctrl-C (or SIGTERM) stops every process with SIGTERM and waits for each to exit.
 *   npm run platform                      # PLATFORM_DEVICES=20 adds simulated devices
 */
import { startPlatformProcesses, platformServices } from './platform-processes.js';
import { eventually } from './service-process.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
const namespace = process.env.TUNNELKEY_NAMESPACE || 'platform';
const devices = Number(process.env.PLATFORM_DEVICES ?? 0);

const platform = await startPlatformProcesses({
  namespace,
  ownerId: 'owner-1',
  ports: 'defaults',
  logLevel: process.env.LOG_LEVEL ?? 'info',
  ...(devices > 0 ? { fleet: { devices, telemetryIntervalMs: 10_000 } } : {}),
  onLine: (name, line) => process.stdout.write(`${name.padEnd(10)} ${line}\n`),
});
let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: SIGTERM to every process`);
  for (const [name, p] of platform.processes) {
    const outcome = await p.terminate(15_000);
    log(`${name}: ${typeof outcome === 'string' ? outcome : `exit ${outcome.code ?? outcome.signal}`}`);
  }
  await platform.destroy();
  process.exit(0);
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));

for (const service of platformServices) {
  const url = `http://127.0.0.1:${platform.ports.get(service)}/ready`;
  const ready = await eventually(async () => (await fetch(url)).ok, 120_000);
  log(`${service.padEnd(12)} ${ready ? 'ready' : 'NOT READY'} on http://127.0.0.1:${platform.ports.get(service)}`);
}
const gateway = `http://127.0.0.1:${platform.ports.get('gateway')}`;
const registered = await fetch(`${gateway}/api/targets`, {
  method: 'POST',
  headers: { authorization: `Bearer ${platform.adminToken}`, 'content-type': 'application/json' },
  body: JSON.stringify({
    targetId: 'broker-1',
    kind: 'mosquitto',
    name: 'Local Mosquitto',
    host: '127.0.0.1',
    tlsPort: platform.broker.tlsPort,
    admin: {
      username: platform.broker.admin.username,
      passwordFile: platform.adminPasswordFile,
      port: platform.broker.adminPort,
    },
  }),
});
log(
  [
    '',
    `namespace ${namespace} on ${process.env.NATS_URL ?? 'nats://127.0.0.1:4222'}; files in ${platform.dir}`,
    `root CA fingerprint (TRUSTED_ROOT_SHA256): ${platform.rootFingerprintSha256}; issuing CA of owner-1`,
    `broker-1: Mosquitto on 127.0.0.1:${platform.broker.tlsPort} (${registered.ok ? 'registered' : `registration failed: ${registered.status}`})`,
    `console and API: ${gateway}  admin token: ${platform.adminToken}`,
    `  TUNNELKEY_URL=${gateway} TUNNELKEY_TOKEN=${platform.adminToken} npm run tunnelkey -- batches list`,
    devices > 0 ? `${devices} simulated devices: identity file ${platform.dir}/identities.csv` : '',
    'Ctrl-C stops every process (SIGTERM) and removes the files.',
  ]
    .filter(Boolean)
    .join('\n'),
);
