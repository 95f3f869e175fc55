/**
 * `npm run demo [-- --devices 1000 --telemetry-interval 5000 --exit]`
 *
 * The whole platform on one machine: uses NATS on NATS_URL (or starts nats-server), starts every
 * service in this process (registry, CA, onboarding, revocation, and the gateway with the web
 * console) and a local Mosquitto with the deploy/mosquitto settings, manufactures a fleet of
 * simulated PUF fridges, and walks them through policy + batch, import, verify, certify, onboard,
 * connect and first telemetry, with a progress bar per phase and a summary. Then it prints the
 * console's URL with an operator token and four things to try (the fourth a firmware rollout: the
 * OTA service runs too, its product registered and an image written for the CLI to upload), and
 * keeps running (telemetry flowing) until Ctrl-C, which stops everything it started and removes its temp dirs. `--exit`
 * stops after the summary.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegisterFirmwareProduct, contextSubject, streamName } from '@tunnelkey/contracts';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { startGateway, type RunningGateway } from '@tunnelkey/gateway';
import { startOta, type RunningOta } from '@tunnelkey/ota';
import { Kek } from '@tunnelkey/pki';
import { startRevocation, type RunningRevocation } from '@tunnelkey/revocation';
import { natsFixture, type NatsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import {
  checkMosquitto,
  MissingPrerequisiteError,
  useOrStartNats,
  type NatsServer,
} from '../support/infrastructure.js';
import { OnboardingWatch } from '../support/onboarding-watch.js';
import { operator, startPlatform, targetId, until, type Platform } from '../support/platform.js';
import { ProgressBar } from '../support/progress-bar.js';

const log = (line = '') => process.stderr.write(`${line}\n`);

interface DemoArguments {
  devices: number;
  telemetryIntervalMs: number;
  /** The gateway's (API + console) port; 0: a free one. */
  consolePort: number;
  exitAfterSummary: boolean;
}

function parseArguments(argv: readonly string[]): DemoArguments {
  const args: DemoArguments = { devices: 1_000, telemetryIntervalMs: 5_000, consolePort: 0, exitAfterSummary: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
      return n;
    };
    if (flag === '--devices') args.devices = value();
    else if (flag === '--telemetry-interval') args.telemetryIntervalMs = value();
    else if (flag === '--console-port') args.consolePort = value();
    else if (flag === '--exit') args.exitAfterSummary = true;
    else if (flag === '--help' || flag === '-h') {
      log(
        'npm run demo [-- --devices N (default 1000)] [--telemetry-interval ms (default 5000)] [--console-port N (default: a free port)] [--exit]',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${flag}`);
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArguments(process.argv.slice(2));
  const size = args.devices;
  // Services log warnings and errors only: the progress bars are the demo's output.
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' });
  let nats: NatsServer | undefined;
  let fixture: NatsFixture | undefined;
  let platform: Platform | undefined;
  let revocation: RunningRevocation | undefined;
  let gateway: RunningGateway | undefined;
  let ota: RunningOta | undefined;
  let firmwareDir: string | undefined;
  let fleet: Fleet | undefined;
  let watch: OnboardingWatch | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      watch?.stop();
      await fleet?.stop().catch(() => undefined);
      await gateway?.stop().catch(() => undefined);
      await ota?.stop().catch(() => undefined);
      if (firmwareDir) await rm(firmwareDir, { recursive: true, force: true }).catch(() => undefined);
      await revocation?.stop().catch(() => undefined);
      await platform?.stop().catch(() => undefined);
      // Deletes the demo's streams (its namespace) from the server and closes the connection.
      await fixture?.teardown().catch(() => undefined);
      await nats?.stop().catch(() => undefined);
    })());
  let interrupted = false;
  const onSignal = (signal: string) => {
    if (interrupted) {
      log(`${signal} again: exiting now`);
      process.exit(130);
    }
    interrupted = true;
    log(
      `\n${signal}: stopping the fleet, the services, the broker${nats?.started ? ' and nats-server' : ''}; removing temp dirs...`,
    );
    void stopAll().then(() => {
      log('stopped.');
      process.exit(130);
    });
  };
  // The demo owns the process's signals: each Nest app installs shutdown hooks that close it and
  // then re-raise the signal, which would end the process before the broker and temp dirs are gone.
  // Ours stop everything in order (platform.stop() closes the Nest apps too).
  const ownSignals = () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeAllListeners(signal);
      process.on(signal, () => onSignal(signal));
    }
  };
  ownSignals();

  const phases: { name: string; seconds: number; note?: string }[] = [];
  const phase = async <T>(
    name: string,
    total: number,
    run: (bar: ProgressBar) => Promise<T>,
    note?: (result: T) => string,
  ): Promise<T> => {
    const bar = new ProgressBar(name);
    bar.update(0, total);
    const result = await run(bar);
    const extra = note?.(result);
    const seconds = bar.finish(extra);
    phases.push({ name, seconds, ...(extra ? { note: extra } : {}) });
    return result;
  };

  try {
    await checkMosquitto();
    nats = await useOrStartNats(log);
    fixture = natsFixture({ url: nats.url, prefix: 'demo' });
    await fixture.setup();
    const namespace = fixture.namespace;
    log(
      `tunnelkey demo: ${size} simulated PUF fridges; NATS ${nats.url}${nats.started ? ' (started here)' : ''}; namespace ${namespace}`,
    );

    // The admin token exists only in this process: it makes the operator token printed at the end.
    const adminToken = randomBytes(24).toString('base64url');
    platform = await phase('start the services and the console', 4, async (bar) => {
      const started = await startPlatform({ nats: fixture!.nc, namespace, logger, telemetryIntervalMs: 10_000 });
      bar.update(1, 4);
      revocation = await startRevocation({ nats: fixture!.nc, namespace, logger, env: {}, config: { httpPort: 0 } });
      bar.update(2, 4);
      // OTA: a KEK of this run only; devices are asked for their firmware keys at the first rollout.
      ota = await startOta({
        nats: fixture!.nc,
        namespace,
        platformKey: started.platformKey,
        kek: await Kek.fromBytes(randomBytes(32)),
        logger,
        env: {},
        config: { httpPort: 0, keysWaitMs: 30_000 },
      });
      await started.send(RegisterFirmwareProduct, {
        product: 'fridge-x200',
        name: 'Fridge X200',
        baselineVersion: '1.0.0',
      });
      bar.update(3, 4);
      gateway = await startGateway({
        nats: fixture!.nc,
        namespace,
        httpPort: args.consolePort,
        adminToken,
        logger,
        nestLogger: ['error'],
        announce: () => undefined,
      });
      bar.update(4, 4);
      return started;
    });
    ownSignals();
    const g = gateway!;
    const p = platform;
    watch = new OnboardingWatch(fixture.nc, namespace, targetId);
    const w = watch;
    const batchId = `fridges-${randomBytes(3).toString('hex')}`;

    fleet = await phase('manufacture + enrol PUF devices', size, (bar) =>
      createFleet({
        nats: fixture!.nc,
        namespace,
        size,
        seedBase: `demo-${batchId}`,
        platformPublicKey: p.platformPublicKeySpki,
        // The devices' PUF work on worker threads standing for their own silicon, off the platform's thread.
        hardwareThreads: Math.max(1, availableParallelism() - 1),
        onProgress: ({ done, total }) => bar.update(done, total),
      }),
    );
    const f = fleet;
    await phase('define policy + batch', 1, async (bar) => {
      await operator.defineBatch(p, batchId, size);
      bar.update(1, 1);
    });
    await phase(
      'import identities',
      size,
      (bar) => operator.importIdentities(p, f, batchId, (d, t) => bar.update(d, t)),
      (r) => `${r.accepted} accepted, ${r.rejected} rejected`,
    );
    await phase('verify identities (PUF challenge)', size, (bar) =>
      operator.verify(p, batchId, size, (d, t) => bar.update(d, t)),
    );
    await phase('certify (CSR -> X.509, tls-0 key)', size, (bar) =>
      operator.certify(p, batchId, size, (d, t) => bar.update(d, t)),
    );
    await phase('start Mosquitto + register target', 1, async (bar) => {
      await p.startBroker();
      await operator.registerBroker(p);
      bar.update(1, 1);
    });
    // Devices connect as soon as their connection parameters arrive: onboarding and connecting overlap.
    f.connect({ telemetryIntervalMs: args.telemetryIntervalMs });
    await phase('onboard (a target certificate each)', size, (bar) =>
      operator.onboard(
        p,
        f,
        batchId,
        size,
        (d, t) => bar.update(d, t),
        () => w.counts.onboardingFailed,
      ),
    );
    // Done when the onboarding service has recorded every connection (it tails the broker's log).
    await phase('connect (mutual TLS, PUF key)', size, (bar) =>
      until(
        'connections recorded',
        () => w.counts.connected,
        size,
        (d, t) => bar.update(d, t, `devices connected: ${f.stats().mqtt.connected}`),
      ),
    );
    await phase('first telemetry recorded', size, (bar) =>
      until(
        'first telemetry recorded',
        () => w.counts.firstTelemetry,
        size,
        (d, t) => bar.update(d, t),
      ),
    );

    const stats = f.stats();
    const urls = [
      ['registry', p.registry.url],
      ['ca', p.ca.service.url],
      ['onboarding', p.onboarding.service.url],
      ['revocation', revocation!.url],
      ['ota', ota!.service.url],
      ['gateway', g.url],
    ] as const;
    log('');
    log('Summary');
    log(
      `  devices certified              ${p.registry.readModel.batchSummary(batchId)?.byStatus.Certified ?? 0} / ${size}`,
    );
    log(
      `  onboarded to the broker        ${w.counts.onboarded} / ${size}${w.counts.onboardingFailed ? ` (${w.counts.onboardingFailed} failed)` : ''}`,
    );
    log(
      `  connected (mutual TLS)         ${stats.mqtt.connected} / ${size} (DeviceConnected recorded: ${w.counts.connected})`,
    );
    log(
      `  delivering telemetry           ${stats.mqtt.publishing} / ${size} (first TelemetryReceived recorded: ${w.counts.firstTelemetry})`,
    );
    log('  time per phase');
    for (const { name, seconds, note } of phases)
      log(`    ${name.padEnd(36)} ${seconds.toFixed(1).padStart(7)} s${note ? `  ${note}` : ''}`);
    const onboardPhase = phases.find((x) => x.name.startsWith('onboard'));
    if (onboardPhase)
      log(
        `  note: onboarding ran at ${(size / onboardPhase.seconds).toFixed(0)} devices/s: each device is issued a certificate by the broker's own CA, with no broker work per device.`,
      );
    log('');
    log('Where to look next');
    for (const [name, url] of urls) log(`  ${name.padEnd(11)} ${url}/metrics   ${url}/health   ${url}/ready`);
    log(
      `  event streams (NATS ${nats.url}): ${['registry', 'ca', 'onboarding'].map((c) => streamName(c as 'registry', namespace)).join(', ')}`,
    );
    log(
      `    e.g. nats --server ${nats.url} sub '${contextSubject('onboarding', namespace)}.>'    nats --server ${nats.url} stream view ${streamName('onboarding', namespace)}`,
    );
    log(
      `  telemetry on the broker: topic fridges/<deviceId>/telemetry on 127.0.0.1:${p.broker.tlsPort} (mutual TLS); broker log ${p.broker.logFile}`,
    );
    if (args.exitAfterSummary) {
      await stopAll();
      return;
    }
    // Revoking needs the admin role: the token the demo hands out may do everything it suggests.
    const operatorToken = await createToken(g.url, adminToken, 'demo-operator', 'admin');
    const someDevice = [...f.devices()][0]!.deviceId;
    log('');
    log('Try it');
    log(`  console     ${g.url}/   (sign in with the token below)`);
    log(`  token       ${operatorToken}   (role admin, named demo-operator; valid while the demo runs)`);
    log(`  1. Revoke a device from the console and watch it drop: open a device (e.g. ${someDevice}),`);
    log('     press Revoke; its connection turns "disconnected" and the broker refuses it from then on.');
    log('  2. The CLI against what is running:');
    log(`     export TUNNELKEY_URL=${g.url} TUNNELKEY_TOKEN=${operatorToken}`);
    log('     npm run tunnelkey -- devices list --connection connected --limit 5');
    log(`     npm run tunnelkey -- revoke device ${someDevice} --reason keyCompromise`);
    log('  3. Follow the live events (server-sent events):');
    log(`     curl -N -H "authorization: Bearer ${operatorToken}" ${g.url}/events`);
    // A 1 MiB image for fridge-x200 (registered above, devices ship 1.0.0), for the CLI to upload.
    firmwareDir = await mkdtemp(join(tmpdir(), 'tk-demo-firmware-'));
    const image = join(firmwareDir, 'fridge-x200-2.0.0.bin');
    await writeFile(image, randomBytes(1024 * 1024));
    log('  4. Roll out a firmware update in three waves (signed ECDSA P-256 + ML-DSA-65, encrypted per device):');
    log(`     npm run tunnelkey -- firmware upload ${image} --product fridge-x200 --version 2.0.0 --id fridge-2-0-0`);
    log(
      `     npm run tunnelkey -- rollout start --id demo-rollout --firmware fridge-2-0-0 --batch ${batchId} --waves 5,25,100 --watch`,
    );
    log(
      `     or in the console: ${g.url}/#/firmware, then ${g.url}/#/rollout?id=demo-rollout (live, Pause/Resume/Abort)`,
    );
    log('');
    log('Running: devices keep publishing. Ctrl-C stops everything (streams of this namespace are deleted).');
    await new Promise<never>(() => undefined);
  } catch (error) {
    if (interrupted) return;
    if (error instanceof MissingPrerequisiteError) {
      log(`\n${error.message}. Install it with:\n  ${error.install}`);
    } else {
      log(`\ndemo failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    }
    await stopAll();
    process.exitCode = 1;
  }
}

void main();

/** An API token of `role`, made with the demo's admin token (POST /api/tokens). */
async function createToken(gatewayUrl: string, adminToken: string, name: string, role: string): Promise<string> {
  const response = await fetch(`${gatewayUrl}/api/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  });
  if (!response.ok) throw new Error(`the gateway refused to make a token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}
