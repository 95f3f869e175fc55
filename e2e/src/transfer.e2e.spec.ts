/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are JSON; the assertions check their shapes */
/**
 * Issue 17's ownership transfer at the broker: devices of owner acme, provisioned, onboarded to
 * acme's Mosquitto and publishing, are handed to owner globex with one TransferOwnership through
 * the gateway (a custody record per device: acme's authorisation, globex's acceptance, the device's
 * own acknowledgement by its PUF-derived enrolment key). Then:
 * - acme's old target certificates fail the TLS handshake at acme's broker (node TLS for every
 *   device, the openssl CLI for a sample: an independent verifier);
 * - globex verifies, certifies (keys of owner epoch 1: other keys than acme's) and onboards them
 *   to its own broker, where they publish;
 * - acme's token sees nothing of the devices any more (404; its lists and live events show none of
 *   globex's later events), globex's sees the custody chain and none of acme's telemetry.
 * Bad input first: another owner's token, and a record whose authorisation globex signed, are
 * refused and change nothing.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { createHash, KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { CustodyRole, CustodyStatement } from '@tunnelkey/contracts';
import { signCustodyStatement } from '@tunnelkey/device-protocol';
import { createFleet, type Fleet, type SimulatedDevice } from '@tunnelkey/device-fleet';
import { serverSentEvents, startGateway, type RunningGateway } from '@tunnelkey/gateway';
import { custodySigner, natsFixture, waitFor, type CustodySigner } from '@tunnelkey/testing';
import { pino } from 'pino';
import { operator, startPlatform, targetId as acmeTarget, type Platform } from './support/platform.js';

const size = Number(process.env.TRANSFER_E2E_DEVICES ?? 50);
/** Devices whose old certificate the openssl CLI tries too (every device is tried with node's TLS). */
const opensslSample = Math.min(size, Number(process.env.TRANSFER_E2E_OPENSSL ?? 5));
const nats = natsFixture({ prefix: 'transfer' });
const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
const adminToken = randomBytes(32).toString('base64url');
const globexTarget = 'globex-broker';
const telemetryIntervalMs = Math.max(500, 20 * size);

type Signer = CustodySigner;
const custodyKey = custodySigner;

/** The TLS identity a device used at acme's broker: its target certificate and its tls-0 key (PEM). */
interface OldIdentity {
  deviceId: string;
  certPem: string;
  keyPem: string;
}

type LinkEvent = { type: string; deviceId: string; targetId?: string; at: number; reason?: string };

describe(`ownership transfer: ${size} connected devices from acme to globex`, () => {
  let platform: Platform;
  let gateway: RunningGateway;
  let fleet: Fleet;
  let acmeToken: string;
  let globexToken: string;
  let dir: string;
  const run = randomUUID().slice(0, 8);
  const acmeBatch = `acme-fridges-${run}`;
  const globexBatch = `globex-fridges-${run}`;
  const links: LinkEvent[] = [];
  const sse = {
    acme: [] as { type: string; data: any; at: number }[],
    globex: [] as { type: string; data: any; at: number }[],
  };
  const sseAbort = new AbortController();

  const call = async <T = any>(method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  };

  /** Reads an owner's SSE stream in the background. */
  const listen = async (owner: 'acme' | 'globex', token: string) => {
    const ticket = await call<{ ticket: string }>('POST', '/api/sse-tickets', token);
    const response = await fetch(`${gateway.url}/events?ticket=${encodeURIComponent(ticket.body.ticket)}`, {
      signal: sseAbort.signal,
    });
    expect(response.status).toBe(200);
    void (async () => {
      try {
        for await (const event of serverSentEvents(response.body!))
          sse[owner].push({ type: event.type, data: event.data, at: Date.now() });
      } catch {
        // aborted at the end
      }
    })();
    await waitFor(() => sse[owner].some((e) => e.type === 'hello'), { description: `${owner} SSE hello` });
  };

  beforeAll(async () => {
    await nats.setup();
    dir = await mkdtemp(join(tmpdir(), 'tk-transfer-'));
    platform = await startPlatform({ nats: nats.nc, namespace: nats.namespace, logger, owners: ['acme', 'globex'] });
    gateway = await startGateway({
      nats: nats.nc,
      namespace: nats.namespace,
      httpPort: 0,
      adminToken,
      logger,
      nestLogger: ['error'],
    });
    fleet = await createFleet({
      nats: nats.nc,
      namespace: nats.namespace,
      size,
      seedBase: `transfer-${run}`,
      platformPublicKey: platform.platformPublicKeySpki,
    });
    await operator.defineBatch(platform, acmeBatch, size);
    await operator.certifyFleet(platform, fleet, acmeBatch, size);
    await platform.startBroker();
    await operator.registerBroker(platform);
    await platform.startBroker(globexTarget);
    await operator.registerBroker(platform, globexTarget, 'globex');
    await operator.defineBatch(platform, globexBatch, size, { owner: 'globex', target: globexTarget });
    await operator.onboard(platform, fleet, acmeBatch, size);
    fleet.connect({ telemetryIntervalMs, concurrency: 16, onEvent: (e) => void links.push(e as LinkEvent) });
    await waitFor(() => firstPublishes(acmeTarget).size === size, {
      description: "every device publishing on acme's broker",
      timeoutMs: 180_000,
    });
    const token = async (name: string, ownerId: string) => {
      const issued = await call<{ token: string }>('POST', '/api/tokens', adminToken, { name, role: 'admin', ownerId });
      expect(issued.status).toBe(201);
      return issued.body.token;
    };
    acmeToken = await token('acme-ops', 'acme');
    globexToken = await token('globex-ops', 'globex');
  }, 600_000);

  afterAll(async () => {
    sseAbort.abort();
    await fleet?.stop();
    await gateway?.stop();
    await platform?.stop();
    await nats.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const firstPublishes = (target: string, after = 0) =>
    new Set(
      links
        .filter((e) => e.type === 'first-publish-acked' && e.targetId === target && e.at >= after)
        .map((e) => e.deviceId),
    );

  const devices = (): SimulatedDevice[] => [...fleet.devices()];

  /** Its current identity at acme's broker, exported as an attacker holding acme's records and the key would. */
  async function oldIdentityOf(device: SimulatedDevice): Promise<OldIdentity> {
    const parameters = device.flash.connections[acmeTarget]!;
    const keyId = (parameters.keyId ?? 'tls-0') as 'tls-0';
    const keyPem = await device.withKeys([keyId], async (keys) =>
      KeyObject.from(keys.get(keyId)!.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    );
    return { deviceId: device.deviceId, certPem: parameters.clientCertificatePem!, keyPem };
  }

  /** A TLS handshake with acme's broker under the identity: 'accepted', or why it failed. */
  function handshake(identity: OldIdentity): Promise<string> {
    return new Promise((resolve) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: platform.broker.tlsPort,
        ca: platform.serverIdentity.caPem,
        cert: identity.certPem,
        key: identity.keyPem,
        servername: 'localhost',
        checkServerIdentity: () => undefined,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
      });
      socket.setTimeout(10_000, () => (socket.destroy(), resolve('timeout')));
      socket.once('secureConnect', () => (socket.end(), resolve('accepted')));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  }

  /** The openssl CLI's verdict on the same handshake (TLS 1.2: the server refuses within the handshake). */
  async function opensslHandshake(identity: OldIdentity): Promise<{ status: number | null; output: string }> {
    const base = join(dir, identity.deviceId);
    await writeFile(`${base}.crt`, identity.certPem);
    await writeFile(`${base}.key`, identity.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'server-ca.pem'), platform.serverIdentity.caPem);
    // prettier-ignore
    const result = spawnSync('openssl', [
      's_client', '-connect', `127.0.0.1:${platform.broker.tlsPort}`, '-tls1_2', '-brief',
      '-cert', `${base}.crt`, '-key', `${base}.key`, '-CAfile', join(dir, 'server-ca.pem'),
    ], { input: '', encoding: 'utf8', timeout: 15_000 });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  it("moves every device to globex: acme's certificates fail the handshake, globex's connect, acme sees nothing new", async () => {
    const all = devices();
    const ids = all.map((d) => d.deviceId);
    const old = await Promise.all(all.map(oldIdentityOf));
    // The old identities work before the transfer: the refusals after it are the transfer's doing.
    expect(await handshake(old[0]!)).toBe('accepted');
    const before = await opensslHandshake(old[0]!);
    expect(before.status).toBe(0);

    const acmeKey = await custodyKey();
    const globexKey = await custodyKey();
    const registered = [
      await call('POST', '/api/owners/acme/custody-keys', acmeToken, { keyId: 'ops', publicKey: acmeKey.publicKey }),
      await call('POST', '/api/owners/globex/custody-keys', globexToken, {
        keyId: 'ops',
        publicKey: globexKey.publicKey,
      }),
    ];
    expect(registered.map((r) => r.status)).toEqual([200, 200]);
    await listen('acme', acmeToken);
    await listen('globex', globexToken);

    const transferId = `t-${run}`;
    const statementOf = (device: SimulatedDevice): CustodyStatement => ({
      transferId,
      deviceId: device.deviceId,
      enrolmentKeyDigest: createHash('sha256').update(device.enrolmentPublicKey).digest('hex'),
      fromOwnerId: 'acme',
      toOwnerId: 'globex',
      toBatchId: globexBatch,
      ownerEpoch: 1,
    });
    const sign = async (role: CustodyRole, key: Signer, statement: CustodyStatement) => ({
      keyDigest: key.keyDigest,
      signature: await signCustodyStatement(role, statement, key.privateKey),
    });
    const body = (entries: { deviceId: string; custody: object }[]) => ({
      transferId,
      fromOwnerId: 'acme',
      toOwnerId: 'globex',
      toBatchId: globexBatch,
      devices: entries,
    });

    // Bad input changes nothing: globex cannot give away acme's devices; a record whose
    // authorisation globex signed (not acme) is refused whole.
    const forged = await Promise.all(
      all.map(async (device) => {
        const statement = statementOf(device);
        return {
          deviceId: device.deviceId,
          custody: {
            authorisation: await sign('authorisation', globexKey, statement),
            acceptance: await sign('acceptance', globexKey, statement),
            acknowledgement: await sign('acknowledgement', globexKey, statement),
          },
        };
      }),
    );
    expect((await call('POST', '/api/transfers', globexToken, body(forged))).status).toBe(404);
    const refused = await call<{ error: { code: string } }>('POST', '/api/transfers', acmeToken, body(forged));
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('authorisation-not-by-old-owner');
    expect((await call('GET', `/api/devices/${ids[0]}`, acmeToken)).body).toMatchObject({ batchId: acmeBatch });

    // The real record: acme authorises, globex accepts, each device acknowledges with its own PUF key.
    const started = Date.now();
    const records = await Promise.all(
      all.map(async (device) => {
        const statement = statementOf(device);
        return {
          deviceId: device.deviceId,
          custody: {
            authorisation: await sign('authorisation', acmeKey, statement),
            acceptance: await sign('acceptance', globexKey, statement),
            acknowledgement: await device.acknowledgeTransfer(statement),
          },
        };
      }),
    );
    const transferred = await call('POST', '/api/transfers', acmeToken, body(records));
    expect(transferred.status).toBe(200);
    expect(transferred.body.result).toEqual({ transferId, transferred: size, alreadyTransferred: 0 });
    const transferredAt = Date.now();

    // acme's certificates no longer pass the TLS handshake at acme's broker (its CRL lists them).
    await waitFor(async () => (await Promise.all(old.map(handshake))).every((verdict) => verdict !== 'accepted'), {
      description: "every old certificate refused at acme's broker",
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    const refusedAt = Date.now();
    for (const identity of old.slice(0, opensslSample)) {
      const verdict = await opensslHandshake(identity);
      expect(verdict.status).not.toBe(0);
      expect(verdict.output).toMatch(/alert|handshake failure|certificate revoked/i);
    }

    // globex re-provisions them: a fresh identity challenge, certificates for keys of epoch 1, its own broker.
    await operator.verify(platform, globexBatch, size);
    await operator.certify(platform, globexBatch, size);
    for (const device of all) expect(Object.keys(device.flash.certificates)).toEqual(['tls-1-0']);
    const onboardAt = Date.now();
    await operator.onboard(platform, fleet, globexBatch, size);
    await waitFor(() => firstPublishes(globexTarget, onboardAt).size === size, {
      description: "every device publishing on globex's broker",
      timeoutMs: 180_000,
    });
    const publishingAt = Date.now();

    // globex's view: the devices with the custody chain, its own broker, none of acme's telemetry.
    await waitFor(
      async () => {
        const detail = await call('GET', `/api/devices/${ids[0]}`, globexToken);
        return detail.body?.telemetry?.messagesTotal > 0 ? detail : undefined;
      },
      { description: "globex's read model shows its telemetry", timeoutMs: 60_000 },
    );
    for (const deviceId of ids.slice(0, 5)) {
      const detail = await call('GET', `/api/devices/${deviceId}`, globexToken);
      expect(detail.status).toBe(200);
      expect(detail.body).toMatchObject({ batchId: globexBatch, ownerEpoch: 1, lastTransfer: { transferId } });
      expect(detail.body.targets.map((t: { targetId: string }) => t.targetId)).toEqual([globexTarget]);
      const history = await call('GET', `/api/devices/${deviceId}/history?limit=500`, globexToken);
      expect(history.status).toBe(200);
      const events = history.body.events as { type: string; context: string; data: any }[];
      const custody = events.filter((e) => e.type === 'OwnershipTransferCompleted');
      expect(custody).toHaveLength(1);
      expect(custody[0]!.data).toMatchObject({ fromOwnerId: 'acme', ownerId: 'globex', ownerEpoch: 1 });
      expect(Object.keys(custody[0]!.data.custody).sort()).toEqual(['acceptance', 'acknowledgement', 'authorisation']);
      const onboarding = events.filter((e) => e.context === 'onboarding');
      expect(onboarding.filter((e) => e.data.targetId === acmeTarget)).toEqual([]);
      expect(events.some((e) => e.type === 'DeviceIdentityImported')).toBe(false);
    }
    // globex's live events showed the devices after the transfer...
    await waitFor(
      () =>
        new Set(sse.globex.filter((e) => e.type === 'device' && e.at >= transferredAt).map((e) => e.data.deviceId))
          .size === size,
      { description: 'globex saw every device live', timeoutMs: 60_000 },
    );

    // ...acme's show none of them since, and its queries know none of them.
    const idSet = new Set(ids);
    expect(sse.acme.filter((e) => e.type === 'device' && e.at >= transferredAt && idSet.has(e.data.deviceId))).toEqual(
      [],
    );
    for (const deviceId of ids) {
      expect((await call('GET', `/api/devices/${deviceId}`, acmeToken)).status).toBe(404);
      expect((await call('GET', `/api/devices/${deviceId}/history`, acmeToken)).status).toBe(404);
    }
    const acmeList = await call('GET', '/api/devices?limit=500', acmeToken);
    expect(acmeList.body.items.filter((d: { deviceId: string }) => idSet.has(d.deviceId))).toEqual([]);
    // Nor can acme act on them any more: revoking one is answered as an unknown device.
    expect(
      (await call('POST', `/api/devices/${ids[0]}/revocation`, acmeToken, { reason: 'keyCompromise' })).status,
    ).toBe(404);

    process.stdout.write(
      `transfer of ${size} devices: command ${transferredAt - started} ms (custody records signed and checked), ` +
        `old certificates refused at acme's broker ${refusedAt - transferredAt} ms after it, ` +
        `re-provisioned and publishing on globex's broker ${publishingAt - refusedAt} ms later\n`,
    );
  }, 900_000);
});
