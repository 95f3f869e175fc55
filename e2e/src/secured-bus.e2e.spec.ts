/**
 * Issue 14, finding 0, end to end: the whole platform on the SECURED bus. A nats-server of its own
 * runs deploy/nats/nats.conf (startSecuredNats: only ports, store directory and certificate paths
 * replaced; TLS required; empty namespace, as the file is written for it). The registry, the CA,
 * onboarding, revocation and the gateway each open their own connection from their own environment
 * (NATS_USER/NATS_PASSWORD/NATS_TLS_CA_FILE of its user), the CA ceremony runs as `ca`, and the
 * simulated devices connect as `fleet` (DEVICES account). An operator drives the flow through the
 * gateway's HTTP API: policy, batch, import, verify (challenge over dev.*), certify (CSR up, signed
 * certificate down the inbox), roll a firmware image out (OTA on its own user: the image uploaded
 * through the gateway into OTA's object store, signed, encrypted, offered and fetched in chunk
 * frames; every device boots it), register a real Mosquitto, onboard, revoke one device. Each step's
 * outcome is asserted, and nats-server's log must show no refused publish or subscription: a
 * permission gap would otherwise show only as a timeout.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are JSON; the assertions check their shapes */
import 'reflect-metadata';
import { createHash, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, natsConnectionConfig, natsConnectionOptions } from '@tunnelkey/config';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { startGateway, type RunningGateway } from '@tunnelkey/gateway';
import { startOta, type RunningOta } from '@tunnelkey/ota';
import { Kek } from '@tunnelkey/pki';
import { startRevocation, type RunningRevocation } from '@tunnelkey/revocation';
import { startSecuredNats, waitFor, type SecuredNats } from '@tunnelkey/testing';
import { pino } from 'pino';
import { adminPasswordFile, ownerId, startPlatform, targetId, type Platform } from './support/platform.js';

const fleetSize = 4;
const logger = pino({ level: 'warn' });
const adminToken = randomBytes(32).toString('base64url');

describe('the platform on the secured bus (deploy/nats/nats.conf): every service on its own user, devices on the fleet user', () => {
  let bus: SecuredNats;
  let platform: Platform;
  let revocation: RunningRevocation;
  let ota: RunningOta;
  let gateway: RunningGateway;
  let fleetConnection: NatsConnection;
  let fleet: Fleet;
  const batchId = `fridges-${randomUUID().slice(0, 8)}`;

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body !== undefined ? { 'content-type': typeof body === 'string' ? 'text/csv' : 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const counts = async () => (await call('GET', `/api/batches/${batchId}`)).body?.counts ?? {};

  beforeAll(async () => {
    bus = await startSecuredNats();
    platform = await startPlatform({ envOf: (user) => bus.envOf(user), namespace: '', logger });
    revocation = await startRevocation({ env: bus.envOf('revocation'), namespace: '', config: { httpPort: 0 } });
    ota = await startOta({
      env: bus.envOf('ota'),
      namespace: '',
      platformKey: platform.platformKey,
      kek: await Kek.fromBytes(randomBytes(32)),
      logger,
      config: { httpPort: 0, tickMs: 100, keysWaitMs: 30_000 },
    });
    gateway = await startGateway({
      env: bus.envOf('gateway'),
      namespace: '',
      httpPort: 0,
      adminToken,
      logger,
      nestLogger: ['error'],
    });
    fleetConnection = await connectNats(
      await natsConnectionOptions(natsConnectionConfig(bus.envOf('fleet')), { name: 'device-fleet' }),
    );
    fleet = await createFleet({
      nats: fleetConnection,
      namespace: '',
      size: fleetSize,
      seedBase: `secured-${batchId}`,
      platformPublicKey: platform.platformPublicKeySpki,
    });
  }, 120_000);

  afterAll(async () => {
    await fleet?.stop();
    await fleetConnection?.close();
    await gateway?.stop();
    await ota?.stop();
    await revocation?.stop();
    await platform?.stop();
    await bus?.stop();
  }, 60_000);

  it('runs policy, batch, import, verify, certify, onboarding to Mosquitto and a revocation with no permission refused', async () => {
    // Every process is on its own user: nats-server's connections list them (TLS on every one).
    const connz = (await (await fetch(`${bus.monitorUrl}/connz?auth=true`)).json()) as {
      connections: { authorized_user?: string; tls_version?: string }[];
    };
    const usersConnected = new Set(connz.connections.map((c) => c.authorized_user));
    for (const user of ['registry', 'ca', 'onboarding', 'revocation', 'ota', 'gateway', 'fleet'])
      expect(usersConnected).toContain(user);
    expect(connz.connections.every((c) => c.tls_version)).toBe(true);

    const policyId = `policy-${batchId}`;
    const policy = await call('POST', '/api/policies', {
      policyId,
      name: 'Fridges to the plant broker',
      targetIds: [targetId],
      topicRights: [
        { topic: 'fridges/{deviceId}/telemetry', access: 'publish' },
        { topic: 'fridges/{deviceId}/commands/#', access: 'subscribe' },
      ],
      certificateLifetimeDays: 365,
    });
    expect(policy).toMatchObject({ status: 200, body: { result: { policyId } } });
    const batch = await call('POST', '/api/batches', {
      batchId,
      name: `${fleetSize} fridges`,
      policyId,
      ownerId,
      expectedSize: fleetSize,
    });
    expect(batch.status).toBe(200);

    const imported = await call(
      'POST',
      `/api/batches/${batchId}/identities?importId=file-1`,
      fleet.identityFile('csv'),
    );
    expect(imported.status).toBe(200);
    expect(imported.body.result).toMatchObject({ accepted: fleetSize, rejected: 0 });

    // Verify: the registry challenges each device on its inbox, the device answers on dev.<id>.<kind>.
    expect((await call('POST', '/api/verifications', { scope: { kind: 'batch', batchId } })).status).toBe(202);
    await waitFor(async () => (await counts()).Verified === fleetSize, {
      description: 'every identity verified',
      timeoutMs: 60_000,
    });

    // Certify: each device sends a CSR up, the CA's certificate comes back on its inbox.
    const certify = await call('POST', '/api/certifications', { scope: { kind: 'batch', batchId }, keyId: 'tls-0' });
    expect(certify).toMatchObject({ status: 202, body: { result: { devices: fleetSize } } });
    await waitFor(async () => (await counts()).Certified === fleetSize, {
      description: 'every device certified',
      timeoutMs: 60_000,
    });
    await waitFor(() => [...fleet.devices()].every((d) => d.flash.certificates['tls-0']), {
      description: 'every device stored its certificate',
      timeoutMs: 30_000,
    });
    const device = [...fleet.devices()][1]!;
    const leaf = new X509Certificate(device.flash.certificates['tls-0']!.certificatePem);
    expect(leaf.subject).toContain(device.deviceId);
    const [issuingPem, rootPem] = device.flash.certificates['tls-0']!.chainPem;
    expect(leaf.verify(new X509Certificate(issuingPem!).publicKey)).toBe(true);
    expect(new X509Certificate(rootPem!).fingerprint256.replace(/:/g, '').toLowerCase()).toBe(
      (await platform.ca.authority.root()).fingerprintSha256,
    );

    // A firmware rollout: the image streamed through the gateway into OTA_IMAGES, registered and
    // signed by OTA, offered to every device (key wrap), fetched as chunk frames, booted, reported.
    const image = new Uint8Array(randomBytes(200 * 1024));
    const sha256 = createHash('sha256').update(image).digest('hex');
    const uploaded = await fetch(`${gateway.url}/api/firmware/uploads?sha256=${sha256}&size=${image.length}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/octet-stream' },
      body: image,
    });
    expect(uploaded.status).toBe(201);
    const { objectName } = (await uploaded.json()) as { objectName: string };
    const product = { product: 'fridge-x200', name: 'Fridge X200', baselineVersion: '1.0.0' };
    expect((await call('POST', '/api/firmware/products', product)).status).toBe(200);
    const firmware = { product: 'fridge-x200', version: '2.0.0', imageDigest: sha256, sizeBytes: image.length };
    expect((await call('POST', '/api/firmware', { firmwareId: 'fw-2', objectName, ...firmware })).status).toBe(200);
    const rollout = { rolloutId: 'r-secured', firmwareId: 'fw-2', batchIds: [batchId], maxFailurePercent: 0 };
    expect((await call('POST', '/api/rollouts', { ...rollout, waves: [{ percent: 100 }] })).status).toBe(202);
    await waitFor(
      async () => (await call('POST', '/api/rollouts/r-secured/progress', {})).body?.result?.status === 'completed',
      { description: 'the rollout completed', timeoutMs: 90_000 },
    );
    expect((await call('POST', '/api/rollouts/r-secured/progress', {})).body.result).toMatchObject({
      updated: fleetSize,
      failed: 0,
    });
    for (const d of fleet.devices()) expect(d.flash.firmware.measurement).toBe(sha256);

    // Onboard to a real Mosquitto: the admin password stays in onboarding's secrets (passwordFile).
    await platform.startBroker();
    const { broker } = platform;
    const registered = await call('POST', '/api/targets', {
      targetId,
      kind: 'mosquitto',
      name: 'Plant broker (local Mosquitto)',
      host: '127.0.0.1',
      tlsPort: broker.tlsPort,
      admin: { username: broker.admin.username, passwordFile: adminPasswordFile, port: broker.adminPort },
    });
    expect(registered.status).toBe(200);
    expect([200, 202]).toContain((await call('POST', `/api/batches/${batchId}/onboarding`, {})).status);
    await waitFor(() => fleet.stats().byState.configured === fleetSize, {
      description: 'every device holds its connection parameters',
      timeoutMs: 120_000,
    });
    expect(device.flash.connections[targetId]).toMatchObject({
      endpoint: { protocol: 'mqtts', host: '127.0.0.1', port: broker.tlsPort },
      clientId: device.deviceId,
    });

    // Revoke one device: CA revokes and publishes a CRL, onboarding enforces it, the registry records Revoked.
    const revoked = await call('POST', `/api/devices/${device.deviceId}/revocation`, { reason: 'keyCompromise' });
    expect(revoked.status).toBe(202);
    await waitFor(async () => (await call('GET', `/api/devices/${device.deviceId}`)).body?.state === 'Revoked', {
      description: 'the revoked device shows Revoked',
      timeoutMs: 60_000,
    });
    const states = await Promise.all(
      [...fleet.devices()].map(async (d) => (await call('GET', `/api/devices/${d.deviceId}`)).body?.state),
    );
    expect(states.filter((s) => s === 'Revoked')).toHaveLength(1);

    // Nothing along the way was refused by the bus.
    expect(bus.violations()).toEqual([]);
  }, 300_000);
});
