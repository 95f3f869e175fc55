/**
 * Issue 7's API, end to end on the real NATS (NATS_URL, isolated by a namespace): registry, CA and
 * gateway in one process with 20 simulated PUF devices. An operator drives only the HTTP API:
 * policy, batch, import, verify, certify; the device list then shows every device Certified with
 * its certificate details, roles are enforced, the SSE stream delivers the progress, commands
 * carry the operator as actor and the request's correlation id into the log, and the CLI in
 * --json mode answers what the API answers.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are JSON; the assertions check their shapes */
import 'reflect-metadata';
import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { inProcessCeremony, startCa, type RunningCa } from '@tunnelkey/ca';
import { generatePlatformKey } from '@tunnelkey/device-protocol';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { runCli, serverSentEvents, startGateway, type RunningGateway } from '@tunnelkey/gateway';
import { Kek } from '@tunnelkey/pki';
import { startRegistry, type RunningRegistry } from '@tunnelkey/registry';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';

const nats = natsFixture();
const fleetSize = 20;
const logger = pino({ level: 'warn' });
const adminToken = randomBytes(32).toString('base64url');

interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

describe('gateway: the HTTP API over registry + CA with 20 PUF devices', () => {
  let registry: RunningRegistry;
  let ca: RunningCa;
  let gateway: RunningGateway;
  let fleet: Fleet;
  let operatorToken: string;
  let viewerToken: string;
  const issued: { status: number }[] = [];
  const batchId = `fridges-${randomUUID().slice(0, 8)}`;
  const sse: { type: string; data: any }[] = [];
  const sseAbort = new AbortController();

  const call = async <T = any>(
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer<T>> => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': typeof body === 'string' ? 'text/csv' : 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };

  /** Reads the SSE stream in the background into `sse`. */
  const listen = async (ticket: string) => {
    const response = await fetch(`${gateway.url}/events?ticket=${encodeURIComponent(ticket)}`, {
      signal: sseAbort.signal,
    });
    expect(response.status).toBe(200);
    void (async () => {
      try {
        for await (const event of serverSentEvents(response.body!)) sse.push({ type: event.type, data: event.data });
      } catch {
        // aborted at the end of the test
      }
    })();
  };

  const cli = async (args: string[], token: string) => {
    let out = '';
    let err = '';
    const code = await runCli(args, {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      env: { TUNNELKEY_URL: gateway.url, TUNNELKEY_TOKEN: token },
      pollMs: 50,
    });
    return { code, out, err };
  };

  beforeAll(async () => {
    await nats.setup();
    const { key: platformKey } = await generatePlatformKey();
    const namespace = nats.namespace;
    registry = await startRegistry({ nats: nats.nc, namespace, platformKey, logger, nestLogger: ['error'] });
    const kek = await Kek.fromBytes(randomBytes(32));
    // The admin ceremony (root key in memory) signs acme's issuing CA: the CA creates none itself.
    await inProcessCeremony({ nats: nats.nc, namespace, serviceKek: kek, owners: ['acme'], logger });
    ca = await startCa({
      nats: nats.nc,
      namespace,
      platformKey,
      kek,
      logger,
      config: { httpPort: 0 },
    });
    await registry.caSubscriptionStarted();
    gateway = await startGateway({ nats: nats.nc, namespace, httpPort: 0, adminToken, logger, nestLogger: ['error'] });
    fleet = await createFleet({
      nats: nats.nc,
      namespace,
      size: fleetSize,
      profile: 'sram',
      seedBase: `gw-${batchId}`,
      platformPublicKey: platformKey.publicKeySpki,
    });
    // Role tokens every test uses, issued here so that the tests can run in any order.
    const operator = await call('POST', '/api/tokens', adminToken, {
      name: 'olivia',
      role: 'operator',
      ownerId: 'acme',
    });
    const viewer = await call('POST', '/api/tokens', adminToken, { name: 'victor', role: 'viewer', ownerId: 'acme' });
    issued.push(operator, viewer);
    operatorToken = operator.body.token;
    viewerToken = viewer.body.token;
  }, 120_000);

  afterAll(async () => {
    sseAbort.abort();
    await fleet?.stop();
    await gateway?.stop();
    await ca?.stop();
    await registry?.stop();
    await nats.teardown();
  });

  it('is up: health, readiness (read models caught up), metrics, OpenAPI', async () => {
    expect((await call('GET', '/health', undefined)).status).toBe(200);
    expect((await call('GET', '/ready', undefined)).status).toBe(200);
    const openapi = await call('GET', '/openapi.json', undefined);
    expect(openapi.body.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.body.paths)).toContain('/api/devices/{deviceId}');
  });

  it('refuses calls without a token (401) and issues role tokens to an admin', async () => {
    const anonymous = await call('GET', '/api/devices', undefined);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('UNAUTHENTICATED');
    expect((await call('GET', '/api/devices', 'tk_0123456789abcdef_notatoken')).status).toBe(401);
    expect(issued.map((reply) => reply.status)).toEqual([201, 201]);
    const list = await call('GET', '/api/tokens', adminToken);
    expect(list.body.items.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['olivia', 'victor']));
    expect(JSON.stringify(list.body)).not.toContain('sha256');
    expect((await call('GET', '/api/tokens', operatorToken)).status).toBe(403);
  });

  /**
   * The batch provisioned through the API, with its checks along the way: run once, by whichever
   * test needs it first (the CLI test reads the certified batch), so the tests can run in any order.
   */
  let provisioning: Promise<void> | undefined;
  const provisionBatch = () => (provisioning ??= provisionThroughApi());
  async function provisionThroughApi(): Promise<void> {
    const ticket = await call('POST', '/api/sse-tickets', viewerToken);
    await listen(ticket.body.ticket);
    await waitFor(() => sse.some((e) => e.type === 'hello'), { description: 'SSE hello' });

    // Operators cannot define policies (admin), admins can.
    const policy = {
      policyId: `policy-${batchId}`,
      name: 'Fridges',
      ownerId: 'acme',
      targetIds: [],
      topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish-subscribe' }],
      certificateLifetimeDays: 365,
    };
    expect((await call('POST', '/api/policies', operatorToken, policy)).status).toBe(403);
    const defined = await call('POST', '/api/policies', adminToken, policy);
    expect(defined.status).toBe(200);
    expect(defined.body.result).toEqual({ policyId: policy.policyId });

    // A malformed body names the field; nothing is sent.
    const malformed = await call('POST', '/api/batches', operatorToken, {
      batchId,
      name: '20 fridges',
      policyId: policy.policyId,
      ownerId: 'acme',
      expectedSize: 'twenty',
    });
    expect(malformed.status).toBe(400);
    expect(JSON.stringify(malformed.body.error.details)).toContain('/expectedSize');

    const created = await call(
      'POST',
      '/api/batches',
      operatorToken,
      { batchId, name: '20 fridges', policyId: policy.policyId, ownerId: 'acme', expectedSize: fleetSize },
      { 'idempotency-key': `create-${batchId}` },
    );
    expect(created.status).toBe(200);
    // The same Idempotency-Key again changes nothing and still succeeds.
    expect(
      (
        await call(
          'POST',
          '/api/batches',
          operatorToken,
          { batchId, name: '20 fridges', policyId: policy.policyId, ownerId: 'acme', expectedSize: fleetSize },
          { 'idempotency-key': `create-${batchId}` },
        )
      ).status,
    ).toBe(200);

    const csv = fleet.identityFile('csv');
    const imported = await call('POST', `/api/batches/${batchId}/identities?importId=file-1`, operatorToken, csv, {
      'x-correlation-id': `import-${batchId}`,
    });
    expect(imported.status).toBe(200);
    expect(imported.headers.get('x-correlation-id')).toBe(`import-${batchId}`);
    expect(imported.body.result).toMatchObject({ accepted: fleetSize, rejected: 0, calls: 1 });
    expect(imported.body.result.rows[0].row).toBe(2);

    const verify = await call('POST', '/api/verifications', operatorToken, { scope: { kind: 'batch', batchId } });
    expect(verify.status).toBe(202);
    await waitFor(
      async () => (await call('GET', `/api/batches/${batchId}`, viewerToken)).body.counts.Verified === fleetSize,
      { description: 'all verified', timeoutMs: 60_000 },
    );

    const certify = await call('POST', '/api/certifications', operatorToken, {
      scope: { kind: 'batch', batchId },
      keyId: 'tls-0',
    });
    expect(certify.status).toBe(202);
    expect(certify.body.result).toEqual({ devices: fleetSize });
    await waitFor(
      async () => (await call('GET', `/api/batches/${batchId}`, viewerToken)).body.counts.Certified === fleetSize,
      { description: 'all certified', timeoutMs: 90_000 },
    );

    const list = await call('GET', `/api/devices?batchId=${batchId}&state=Certified&limit=5`, viewerToken);
    expect(list.body.total).toBe(fleetSize);
    expect(list.body.items).toHaveLength(5);
    expect(list.body.items.every((d: { certificate?: unknown }) => d.certificate)).toBe(true);
    const page4 = await call('GET', `/api/devices?batchId=${batchId}&limit=5&offset=15`, viewerToken);
    expect(page4.body.items).toHaveLength(5);

    const device = [...fleet.devices()][3]!;
    const detail = await call('GET', `/api/devices/${device.deviceId}`, viewerToken);
    expect(detail.status).toBe(200);
    const leaf = new X509Certificate(device.flash.certificates['tls-0']!.certificatePem);
    expect(detail.body.state).toBe('Certified');
    expect(detail.body.certificate).toMatchObject({
      serialNumber: leaf.serialNumber.toLowerCase(),
      fingerprintSha256: leaf.fingerprint256.replace(/:/g, '').toLowerCase(),
    });
    expect(detail.body.certificate.subject).toContain(device.deviceId);
    expect(detail.body.certificate.chain.length).toBeGreaterThanOrEqual(2);
    expect(detail.body.certificate.chain[0].subject).toBe(leaf.issuer.replace(/\n/g, ', '));
    expect(detail.body.identity.enrolmentKeyDigest).toMatch(/^[0-9a-f]{64}$/);

    // The log records who issued each command and the request's correlation id (the history's
    // read model follows the log on its own, so it is waited for like the others).
    let history = await call('GET', `/api/devices/${device.deviceId}/history`, viewerToken);
    await waitFor(
      async () => {
        history = await call('GET', `/api/devices/${device.deviceId}/history`, viewerToken);
        return history.body.events?.some((e: { type: string }) => e.type === 'DeviceCertified');
      },
      { description: 'DeviceCertified in the history' },
    );
    const importedEvent = history.body.events.find((e: { type: string }) => e.type === 'DeviceIdentityImported');
    expect(importedEvent).toMatchObject({
      context: 'registry',
      actor: { kind: 'operator', id: 'olivia' },
      correlationId: `import-${batchId}`,
    });
    expect(history.body.events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['IdentityVerified', 'CertificateIssued', 'DeviceCertified']),
    );

    // The live stream delivered the batch's progress and the devices' state changes.
    await waitFor(
      () => sse.some((e) => e.type === 'batch' && e.data.batchId === batchId && e.data.counts.Certified === fleetSize),
      { description: 'SSE batch progress to Certified' },
    );
    expect(sse.some((e) => e.type === 'device' && e.data.deviceId === device.deviceId)).toBe(true);
  }

  it('provisions a batch through the API: policy, batch, import, verify, certify -> Certified with certificate details', async () => {
    await provisionBatch();
  }, 240_000);

  it('enforces roles and answers unknown ids and bad queries clearly', async () => {
    const device = [...fleet.devices()][0]!;
    const revoke = await call('POST', `/api/devices/${device.deviceId}/revocation`, viewerToken, {
      reason: 'keyCompromise',
    });
    expect(revoke.status).toBe(403);
    expect(revoke.body.error.code).toBe('FORBIDDEN');
    expect(
      (await call('POST', `/api/devices/${device.deviceId}/revocation`, operatorToken, { reason: 'keyCompromise' }))
        .status,
    ).toBe(403);
    expect((await call('GET', '/api/devices/no-such-device', viewerToken)).status).toBe(404);
    expect((await call('GET', '/api/devices?state=Bogus', viewerToken)).status).toBe(400);
    // The revocation service is not running here: the command is refused as unavailable, not lost silently.
    expect(
      (await call('POST', `/api/devices/${device.deviceId}/revocation`, adminToken, { reason: 'keyCompromise' }))
        .status,
    ).toBe(503);
    // SSE needs a ticket or a token.
    expect((await fetch(`${gateway.url}/events?ticket=forged.ticket`)).status).toBe(401);
  });

  it('the CLI in --json mode returns what the API returns, with exit codes scripts rely on', async () => {
    await provisionBatch();
    const api = await call('GET', `/api/devices?batchId=${batchId}&limit=50`, viewerToken);
    const listed = await cli(['devices', 'list', '--batch', batchId, '--limit', '50', '--json'], viewerToken);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.out)).toEqual(api.body);
    const human = await cli(['devices', 'list', '--batch', batchId], viewerToken);
    expect(human.out).toContain('Certified');
    const batch = await cli(['batches', 'show', batchId, '--json'], viewerToken);
    expect(JSON.parse(batch.out).counts.Certified).toBe(fleetSize);
    // Certify again: the command is idempotent per device; the CLI follows the batch's counts to the end.
    const certify = await cli(['certify', batchId, '--key-id', 'tls-0', '--json'], operatorToken);
    expect(certify.code).toBe(0);
    expect(JSON.parse(certify.out).batch.counts.Certified).toBe(fleetSize);
    expect(
      (await cli(['revoke', 'device', [...fleet.devices()][0]!.deviceId, '--reason', 'keyCompromise'], viewerToken))
        .code,
    ).toBe(4);
    expect((await cli(['devices', 'show', 'no-such-device'], viewerToken)).code).toBe(3);
    expect((await cli(['devices', 'list', '--bogus'], viewerToken)).code).toBe(2);
    expect((await cli(['whoami'], 'tk_0123456789abcdef_notatoken')).code).toBe(4);
  }, 360_000);
});
