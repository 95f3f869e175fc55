/**
 * `npm run fleet -- --devices 5000 --profile sram --temperature 25 --age 0 --offline 0.01 --tampered 2 --identity-file out.json`
 * Manufactures and enrols the devices, writes the identity file, announces them on NATS and
 * serves the device protocol until SIGINT/SIGTERM; devices connect over MQTT (mutual TLS, PUF key)
 * to the targets they are onboarded to and publish telemetry, unless --no-connect.
 */
import { writeFile } from 'node:fs/promises';
import { connectNats, natsConnectionConfig, natsConnectionOptions } from '@tunnelkey/config';
import { fleetUsage, parseFleetArguments } from './cli/fleet-arguments.js';
import { isFleetError } from './errors.js';
import { createFleet } from './fleet/create-fleet.js';
import { serveFleetMetrics } from './fleet/fleet-metrics.js';
import type { FleetStats } from './fleet/fleet-stats.js';
import { loadManufacturerKeyFile } from './simulated-device/manufacturer-attestation.js';
import { loadPlatformPublicKeyFile } from './simulated-device/pinned-platform-key.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

function summary(stats: FleetStats): string {
  const states = Object.entries(stats.byState)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s}=${n}`)
    .join(' ');
  const m = stats.messages;
  const refused = Object.entries(stats.refusedByCode)
    .map(([c, n]) => `${c}=${n}`)
    .join(' ');
  const q = stats.mqtt;
  const mqtt =
    q.links > 0
      ? ` | mqtt links=${q.links} connected=${q.connected} publishing=${q.publishing} failures=${JSON.stringify(q.failuresByReason)}`
      : '';
  return `states: ${states} | received=${m.received} accepted=${m.accepted} refused=${m.refused}${refused ? ` (${refused})` : ''} sent=${m.sent} keyFailures=${m.keyFailures} offlineDrops=${m.offlineDrops} overloadDrops=${m.overloadDrops}${mqtt}`;
}

async function main(): Promise<void> {
  const args = parseFleetArguments(process.argv.slice(2));
  if (args.help) {
    log(fleetUsage);
    return;
  }
  const platformKey = args.platformKeyFile ? await loadPlatformPublicKeyFile(args.platformKeyFile) : undefined;
  if (!platformKey) {
    log(
      'WARNING: no platform public key (--platform-key-file or PLATFORM_PUBLIC_KEY_FILE): devices will announce, but REFUSE every platform message (code no-platform-key).',
    );
  }
  const manufacturerKey = args.manufacturerKey
    ? await loadManufacturerKeyFile(args.manufacturerKey.file, args.manufacturerKey.keyId)
    : undefined;
  // Credentials and TLS from the environment (NATS_USER/NATS_PASSWORD of the DEVICES account, NATS_TLS_CA_FILE...).
  const nc = await connectNats(
    await natsConnectionOptions(natsConnectionConfig(process.env), {
      name: 'tunnelkey-device-fleet',
      servers: args.natsUrl,
    }),
  );
  log(`connected to ${args.natsUrl}`);
  const started = performance.now();
  let lastShown = 0;
  const fleet = await createFleet({
    nats: nc,
    namespace: args.namespace,
    size: args.devices,
    profile: args.profile,
    seedBase: args.seedBase,
    temperatureC: args.temperatureC,
    ageYears: args.ageYears,
    faults: { offline: args.offline, tampered: args.tampered, tamperMode: args.tamperMode },
    hardwareThreads: args.hardwareThreads,
    ...(platformKey ? { platformPublicKey: platformKey } : {}),
    ...(manufacturerKey ? { manufacturerKey } : {}),
    ...(args.product ? { product: args.product } : {}),
    firmwareKeysAtEnrolment: args.firmwareKeysAtEnrolment,
    firmwareFaults: args.firmwareFaults,
    onProgress: ({ done, total }) => {
      const percent = Math.floor((done / total) * 100);
      if (percent >= lastShown + 5 || done === total) {
        lastShown = percent;
        log(`manufacturing + enrolling: ${done}/${total} (${percent} %)`);
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  log(
    `${fleet.size} devices enrolled in ${seconds.toFixed(1)} s (${(fleet.size / seconds).toFixed(0)}/s); faults: ${JSON.stringify(fleet.stats().faults)}`,
  );
  // FLEET_METRICS_PORT: /metrics in the Prometheus text format (load tests scrape the devices' side too).
  const metricsPort = process.env.FLEET_METRICS_PORT?.trim();
  const metrics = metricsPort
    ? await serveFleetMetrics(() => fleet.stats(), Number(metricsPort), process.env.HTTP_HOST?.trim() || '127.0.0.1')
    : undefined;
  if (metrics) log(`metrics on port ${metricsPort} (/metrics)`);
  if (args.identityFile) {
    await writeFile(args.identityFile, fleet.identityFile(args.identityFormat));
    log(`identity file (${args.identityFormat}) written to ${args.identityFile}`);
  }
  if (args.connect) fleet.connect({ telemetryIntervalMs: args.telemetryIntervalMs }); // each device once its connection parameters arrive
  const announced = await fleet.announce();
  log(
    `announced: ${announced.announced}, offline: ${announced.offline}, failed (key reconstruction): ${announced.failed}`,
  );
  log(`serving the device protocol on ${args.namespace ? `${args.namespace}.` : ''}dev.*.inbox.> — Ctrl-C to stop`);

  const ticker = setInterval(() => log(summary(fleet.stats())), 10_000);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    log(`${signal}: stopping (waiting for in-flight messages)`);
    await fleet.stop();
    metrics?.close();
    await nc.drain();
    log(summary(fleet.stats()));
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  await nc.closed();
}

main().catch((error: unknown) => {
  // Typed errors carry no secret; print their code and message, not payloads.
  log(isFleetError(error) ? `${error.name} (${error.code}): ${error.message}` : `fleet failed: ${String(error)}`);
  process.exitCode = 1;
});
