/**
 * Issue 17's renewal, rotate then revoke, end to end on real servers: NATS on NATS_URL (isolated by
 * a namespace) and a real Mosquitto. The registry, the CA and onboarding run in-process with
 * connected PUF devices publishing telemetry. RenewCertificates renews the whole batch: each device
 * derives its next TLS key, sends a CSR attested by its enrolment key, receives the new
 * certificate and its new target certificate, connects with it beside the old session (make before
 * break), reports the switch, and only then is the old certificate revoked: the broker refuses it,
 * while the devices keep publishing. openssl, not our parser, checks the new chain and the CRLs.
 */
import { execFile } from 'node:child_process';
import { KeyObject, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetRenewalProgress, RenewCertificates, type ResultOf } from '@tunnelkey/contracts';
import { createFleet, type Fleet, type MqttLinkEvent } from '@tunnelkey/device-fleet';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { monitorBroker } from './support/broker-monitor.js';
import { operator, startPlatform, targetId, type Platform } from './support/platform.js';

const run = promisify(execFile);
const nats = natsFixture({ prefix: 'rnwe2e' });
const fleetSize = Number(process.env.RENEWAL_E2E_DEVICES ?? 100);
const telemetryIntervalMs = 1_000;
const logger = pino({ level: 'warn' });

interface Before {
  deviceId: string;
  platformSerial: string;
  targetCertificatePem: string;
}

describe(`renewal of ${fleetSize} connected PUF devices on a real Mosquitto: rotate, then revoke`, () => {
  let platform: Platform;
  let fleet: Fleet;
  let monitor: MqttClient;
  let workDir: string;
  const batchId = `renew-${randomUUID().slice(0, 8)}`;
  const linkEvents: MqttLinkEvent[] = [];
  /** Per device: arrival times of its telemetry at the broker (an admin subscriber, independent of the devices). */
  const arrivals = new Map<string, number[]>();

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'tk-renewal-'));
    await nats.setup();
    platform = await startPlatform({ nats: nats.nc, namespace: nats.namespace, logger, telemetryIntervalMs: 1_000 });
    fleet = await createFleet({
      nats: nats.nc,
      namespace: nats.namespace,
      size: fleetSize,
      seedBase: `renewal-e2e-${batchId}`,
      platformPublicKey: platform.platformPublicKeySpki,
    });
    await operator.defineBatch(platform, batchId, fleetSize);
    await operator.certifyFleet(platform, fleet, batchId, fleetSize);
    const broker = await platform.startBroker();
    await operator.registerBroker(platform);
    await operator.onboard(platform, fleet, batchId, fleetSize);
    monitor = await monitorBroker(broker, 'renewal-monitor', ['fridges/+/telemetry'], (topic, at) => {
      const deviceId = topic.split('/')[1]!;
      let times = arrivals.get(deviceId);
      if (!times) arrivals.set(deviceId, (times = []));
      times.push(at);
    });
    fleet.connect({ telemetryIntervalMs, concurrency: 32, onEvent: (event) => void linkEvents.push(event) });
    await waitFor(() => fleet.stats().mqtt.delivered === fleetSize, {
      description: 'every device had telemetry acknowledged',
      timeoutMs: 120_000,
    });
  }, 480_000);

  afterAll(async () => {
    await monitor?.endAsync(true);
    await fleet?.stop();
    await platform?.stop();
    await nats.teardown();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 60_000);

  const openssl = (args: string[]) =>
    run('openssl', args).then(
      ({ stdout, stderr }) => ({ ok: true, out: `${stdout}${stderr}` }),
      (error: { stdout?: string; stderr?: string }) => ({
        ok: false,
        out: `${error.stdout ?? ''}${error.stderr ?? ''}`,
      }),
    );
  const file = async (name: string, text: string | Uint8Array) => {
    const path = join(workDir, name);
    await writeFile(path, text);
    return path;
  };

  test('renews every device with no device refused and telemetry on; the old certificates are then revoked and refused by the broker', async () => {
    const devices = [...fleet.devices()];
    const before: Before[] = devices.map((d) => ({
      deviceId: d.deviceId,
      platformSerial: d.flash.certificates['tls-0']!.serialNumber,
      targetCertificatePem: d.flash.connections[targetId]!.clientCertificatePem!,
    }));
    const renewalStarted = Date.now();
    const eventsBefore = linkEvents.length;

    const started = await platform.send<ResultOf<typeof RenewCertificates>>(RenewCertificates, {
      scope: { kind: 'batch', batchId },
      reason: 'key-exposure',
    });
    expect(started).toMatchObject({ devices: fleetSize, skipped: 0 });
    const progress = () =>
      platform.send<ResultOf<typeof GetRenewalProgress>>(GetRenewalProgress, { operationId: started.operationId });
    const timeline: string[] = [];
    await waitFor(
      async () => {
        const now = await progress();
        timeline.push(`${Date.now() - renewalStarted}ms r${now.renewed} c${now.completed}`);
        return now.completed === fleetSize;
      },
      {
        description: 'every renewal completed (new certificate, switch reported, old one revoked)',
        timeoutMs: 300_000,
        intervalMs: 500,
      },
    );
    const renewedAt = Date.now();
    expect(await progress()).toEqual({
      operationId: started.operationId,
      requested: fleetSize,
      renewed: fleetSize,
      completed: fleetSize,
      expired: 0,
    });

    // Each device holds its new key's certificate and connects with it; no attempt was refused.
    for (const device of devices) {
      expect(device.flash.certificates['tls-1']).toBeDefined();
      expect(device.flash.connections[targetId]!.keyId).toBe('tls-1');
    }
    const during = linkEvents.slice(eventsBefore);
    expect(during.filter((e) => e.type === 'connect-failed')).toEqual([]);
    expect(new Set(during.filter((e) => e.type === 'connected').map((e) => e.deviceId)).size).toBe(fleetSize);
    expect(fleet.stats().mqtt).toMatchObject({ connected: fleetSize, publishRefused: 0 });

    // Telemetry kept coming: every device published after its switch; the longest gap is printed.
    await waitFor(() => devices.every((d) => (arrivals.get(d.deviceId) ?? []).some((t) => t > renewedAt)), {
      description: 'telemetry from every device after the renewal',
      timeoutMs: 30_000,
    });
    let longestGapMs = 0;
    for (const times of arrivals.values())
      for (let i = 1; i < times.length; i++)
        if (times[i]! > renewalStarted) longestGapMs = Math.max(longestGapMs, times[i]! - times[i - 1]!);
    console.log(
      `renewal e2e: ${fleetSize} devices renewed in ${renewedAt - renewalStarted} ms; longest telemetry gap ${longestGapMs} ms (interval ${telemetryIntervalMs} ms)`,
    );
    if (process.env.RENEWAL_E2E_TIMELINE) console.log(timeline.join('\n'));

    // openssl, independently: the new platform certificate chains to the root through the issuing CA.
    const sample = devices[0]!;
    const renewed = sample.flash.certificates['tls-1']!;
    const [issuing, root] = renewed.chainPem;
    const verified = await openssl([
      'verify',
      '-purpose',
      'sslclient',
      '-CAfile',
      await file('root.pem', root!),
      '-untrusted',
      await file('issuing.pem', issuing!),
      await file('renewed.pem', renewed.certificatePem),
    ]);
    expect(verified).toMatchObject({ ok: true, out: expect.stringContaining('OK') });

    // The CA's CRL (its distribution point, over HTTP) lists the superseded platform certificates.
    const crlUrl = /URI:(http\S+\.crl)/.exec(
      (await openssl(['x509', '-noout', '-ext', 'crlDistributionPoints', '-in', join(workDir, 'renewed.pem')])).out,
    )?.[1];
    expect(crlUrl).toBeDefined();
    // A renewal completes when its old certificate's revocation is recorded; the CRL that lists it is
    // published after that (revocations arriving together share one CRL), so the test waits for it.
    const readCaCrl = async () => {
      const crlDer = Buffer.from(await (await fetch(crlUrl!)).arrayBuffer());
      return openssl(['crl', '-inform', 'DER', '-noout', '-text', '-in', await file('ca.crl', crlDer)]);
    };
    let caCrl = await readCaCrl();
    await waitFor(
      async () => {
        caCrl = await readCaCrl();
        return before.every(({ platformSerial }) => caCrl.out.toUpperCase().includes(platformSerial.toUpperCase()));
      },
      { description: "every superseded platform certificate on the CA's CRL", timeoutMs: 60_000 },
    );
    for (const { platformSerial } of before) expect(caCrl.out.toUpperCase()).toContain(platformSerial.toUpperCase());
    expect(caCrl.out).toContain('Superseded');
    expect(caCrl.out.toUpperCase()).not.toContain(renewed.serialNumber.toUpperCase());

    // The broker's own trust files, read by openssl: the old target certificate is revoked, the new one is not.
    const broker = platform.broker;
    const old = before.find((b) => b.deviceId === sample.deviceId)!;
    const targetCheck = async (pem: string, name: string) =>
      openssl(['verify', '-crl_check', '-CAfile', broker.caFile, '-CRLfile', broker.crlFile!, await file(name, pem)]);
    await waitFor(async () => !(await targetCheck(old.targetCertificatePem, 'old-target.pem')).ok, {
      description: "the old target certificate on the broker's CRL",
      timeoutMs: 60_000,
    });
    expect((await targetCheck(old.targetCertificatePem, 'old-target.pem')).out).toContain('revoked');
    expect(
      await targetCheck(sample.flash.connections[targetId]!.clientCertificatePem!, 'new-target.pem'),
    ).toMatchObject({ ok: true });

    // And the broker refuses a handshake with the old certificate and the old (still derivable) key.
    const oldKeyPem = await sample.withKeys(['tls-0'], async (keys) =>
      KeyObject.from(keys.get('tls-0')!.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    );
    const attempt = () =>
      connectAsync({
        protocol: 'mqtts',
        host: '127.0.0.1',
        port: broker.tlsPort,
        ca: platform.serverIdentity.caPem,
        cert: old.targetCertificatePem,
        key: oldKeyPem,
        clientId: sample.deviceId,
        protocolVersion: 5,
        reconnectPeriod: 0,
        connectTimeout: 5_000,
      }).then(
        async (client) => {
          await client.endAsync(true);
          return 'connected';
        },
        () => 'refused',
      );
    await waitFor(async () => (await attempt()) === 'refused', {
      description: 'the broker refusing the old certificate (after its CRL reload)',
      timeoutMs: 60_000,
    });
    // The renewed device is unaffected: it is still connected with its new certificate.
    await waitFor(() => fleet.stats().mqtt.connected === fleetSize, {
      description: 'every device connected',
      timeoutMs: 30_000,
    });
  }, 600_000);
});
