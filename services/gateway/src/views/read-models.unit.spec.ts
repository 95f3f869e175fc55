import { randomUUID } from 'node:crypto';
import type { BoundedContext, EventEnvelope } from '@tunnelkey/contracts';
import { InMemoryEventStore } from '@tunnelkey/eventstore';
import { EmbeddedProjectionStore, type ProjectionStore, type ProjectionStoreHooks } from '@tunnelkey/projection-store';
import { pino } from 'pino';
import { batchProgress, listBatches } from '../queries/batch-progress/batch-progress.query.js';
import { deviceDetail } from '../queries/device-detail/device-detail.query.js';
import { listDevices } from '../queries/device-list/device-list.query.js';
import { listPolicies, listTargets, target } from '../queries/catalog/catalog.query.js';
import { connectionStates, deviceStates } from './fleet-documents.js';
import { ReadModels } from './read-models.js';

// The gateway's views as they run: ReadModels (a LiveFeed per view) on the embedded projection
// store, fed by the in-memory event store. Given events in the log, the queries answer.
const logger = pino({ level: 'silent' });
const digest = 'a'.repeat(64);
/** A self-signed certificate: the events carry PEM that parses (the detail query reads the chain). */
const pem = `-----BEGIN CERTIFICATE-----
MIIBhjCCASugAwIBAgIUONyeYPeBtQW9UhC6OvPSCeLXN5AwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMYWNtZSBpc3N1aW5nMCAXDTI2MTIwNjAzMjg0OFoYDzIxMjYx
MTEyMDMyODQ4WjAXMRUwEwYDVQQDDAxhY21lIGlzc3VpbmcwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAARfScT2+yWhJJTEBq0H8dmYEv/IejL+04O8umkZtOyHLAnd
z0HeelCJGc3Zf4A4ub4Vq+ORsJI1D+zDMLEV3Q2Eo1MwUTAdBgNVHQ4EFgQUz4gx
H9DHE0bn5dFH1YAhTs49Wq4wHwYDVR0jBBgwFoAUz4gxH9DHE0bn5dFH1YAhTs49
Wq4wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAqic5XPTCZ37n
0HEeD0ZTdaNi2Fy/gBrpMLcBpnTFuewCIQDFBvnalW1LPFkK797UKMEsrMNz122Q
sg0YNvZYgN20GQ==
-----END CERTIFICATE-----
`;
let clock = Date.parse('2030-01-01T00:00:00Z');

const aggregateOf = (type: string) =>
  type.startsWith('Batch') || type === 'IdentitiesImported'
    ? 'batch'
    : type === 'ServerPolicyDefined'
      ? 'policy'
      : type.startsWith('Target')
        ? 'target'
        : 'device';

function event(type: string, aggregateId: string, data: Record<string, unknown>, version = 1): EventEnvelope {
  clock += 1000;
  const id = randomUUID();
  return {
    type,
    version,
    id,
    aggregateId,
    occurredAt: new Date(clock).toISOString(),
    causationId: id,
    correlationId: id,
    data,
  };
}

/** A log and the read models following it. */
class Fixture {
  readonly events = new InMemoryEventStore({ logger });
  readonly readModels: ReadModels;

  constructor(hooks: ProjectionStoreHooks = {}) {
    this.readModels = new ReadModels({
      events: this.events,
      store: new EmbeddedProjectionStore(hooks),
      logger,
      retryBackoffMs: [1],
    });
  }

  get store(): ProjectionStore {
    return this.readModels.store;
  }

  /** Appends to the log, then waits until the read models applied it. */
  async given(context: BoundedContext, ...events: EventEnvelope[]): Promise<void> {
    for (const e of events) {
      const stream = { context, aggregate: aggregateOf(e.type), id: e.aggregateId };
      await this.events.append(stream, [e], { expectedVersion: 'any', messageId: e.id });
    }
    await this.readModels.catchUp();
  }

  /** The same log into an empty store: a rebuild, one source after the other. */
  async rebuilt(): Promise<ReadModels> {
    const readModels = new ReadModels({ events: this.events, store: new EmbeddedProjectionStore(), logger });
    await readModels.start();
    return readModels;
  }
}

const imported = (deviceId: string, batchId = 'b1') =>
  event('DeviceIdentityImported', deviceId, {
    deviceId,
    batchId,
    importId: 'i1',
    source: 'json',
    enrolmentPublicKey: 'AAAA',
    enrolmentKeyDigest: digest,
  });
const verified = (deviceId: string) =>
  event('IdentityVerified', deviceId, { deviceId, challengeId: 'ch', nonceDigest: digest, enrolmentKeyDigest: digest });
const certified = (deviceId: string) =>
  event('DeviceCertified', deviceId, {
    deviceId,
    authorityId: 'issuing-acme',
    serialNumber: '0a0b',
    fingerprintSha256: digest,
    notAfter: '2031-01-01T00:00:00.000Z',
  });
const onboarded = (deviceId: string, targetId = 't1') =>
  event('DeviceOnboarded', deviceId, {
    deviceId,
    targetId,
    batchId: 'b1',
    policyId: 'p1',
    clientId: deviceId,
    roleName: 'r',
    topicPrefix: `devices/${deviceId}`,
  });
const connected = (deviceId: string, targetId = 't1') =>
  event(
    'DeviceConnected',
    deviceId,
    {
      deviceId,
      targetId,
      clientId: deviceId,
      connectedAt: '2030-01-02T00:00:00.000Z',
      tlsProtocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
    },
    2,
  );
const disconnected = (deviceId: string, targetId = 't1') =>
  event('DeviceDisconnected', deviceId, {
    deviceId,
    targetId,
    clientId: deviceId,
    disconnectedAt: '2030-01-03T00:00:00.000Z',
    reason: 'client-disabled',
  });
const revoked = (deviceId: string) =>
  event('DeviceRevoked', deviceId, {
    deviceId,
    revocationId: 'rv1',
    reason: 'keyCompromise',
    revokedAt: '2030-01-05T00:00:00.000Z',
  });
const targetRegistered = (targetId = 't1') =>
  event('TargetRegistered', targetId, {
    targetId,
    kind: 'mosquitto',
    name: `broker ${targetId}`,
    host: 'broker.local',
    tlsPort: 8883,
    credentialsRef: 'cred',
  });
const page = { limit: 50, offset: 0 };

describe('fleet view: given events -> batches and devices', () => {
  let fixture: Fixture;
  let store: ProjectionStore;
  const given = (context: BoundedContext, ...events: EventEnvelope[]) => fixture.given(context, ...events);

  beforeEach(async () => {
    fixture = new Fixture();
    store = fixture.store;
    await given(
      'registry',
      event('BatchCreated', 'b1', { batchId: 'b1', name: 'fridges', policyId: 'p1', ownerId: 'acme', expectedSize: 3 }),
    );
  });

  afterEach(() => fixture.readModels.stop());

  it("counts a batch's devices per state as they move", async () => {
    await given(
      'registry',
      imported('d1'),
      imported('d2'),
      imported('d3'),
      verified('d1'),
      verified('d2'),
      certified('d1'),
    );
    const batch = await batchProgress(store, 'b1');
    expect(batch.devices).toBe(3);
    expect(batch.counts).toEqual({
      Announced: 0,
      Imported: 1,
      Verified: 1,
      Certified: 1,
      Onboarded: 0,
      Transferred: 0,
      Revoked: 0,
    });
    expect((await listBatches(store, page)).items[0]).toMatchObject({ batchId: 'b1', name: 'fridges', devices: 3 });
  });

  it('counts verification failures without moving the state, and shows the reason on the device', async () => {
    await given(
      'registry',
      imported('d1'),
      event('IdentityVerificationFailed', 'd1', {
        deviceId: 'd1',
        challengeId: 'ch',
        nonceDigest: digest,
        reason: 'bad-signature',
      }),
    );
    expect(await batchProgress(store, 'b1')).toMatchObject({ verificationFailures: 1, counts: { Imported: 1 } });
    expect((await listDevices(store, page)).items[0]).toMatchObject({ state: 'Imported', problem: 'bad-signature' });
  });

  it('moves a state only forward: an onboarding fact applied before the certification does not go back', async () => {
    await given('registry', imported('d1'), verified('d1'));
    await given('onboarding', onboarded('d1'));
    await given('registry', certified('d1'));
    expect((await deviceDetail(store, 'd1')).state).toBe('Onboarded');
    expect((await batchProgress(store, 'b1')).counts).toMatchObject({ Onboarded: 1, Certified: 0, Verified: 0 });
  });

  it('keeps certificate details, connection per target and telemetry counters', async () => {
    await given('registry', imported('d1'), verified('d1'));
    await given(
      'ca',
      event('CertificateIssued', 'd1', {
        deviceId: 'd1',
        requestId: 'r1',
        authorityId: 'issuing-acme',
        serialNumber: '0a0b',
        subject: 'CN=d1',
        issuer: 'CN=acme issuing',
        notBefore: '2030-01-01T00:00:00.000Z',
        notAfter: '2031-01-01T00:00:00.000Z',
        fingerprintSha256: digest,
        publicKeyDigest: digest,
        keyId: 'tls-0',
        certificatePem: pem,
        chainPem: [pem],
      }),
    );
    await given('registry', certified('d1'));
    await given(
      'onboarding',
      onboarded('d1'),
      connected('d1'),
      event('TelemetryReceived', 'd1', {
        deviceId: 'd1',
        targetId: 't1',
        kind: 'first',
        messagesTotal: 1,
        bytesTotal: 40,
        messagesInWindow: 1,
        windowStart: '2030-01-02T00:00:01.000Z',
        firstMessageAt: '2030-01-02T00:00:01.000Z',
        lastMessageAt: '2030-01-02T00:00:01.000Z',
        lastTopic: 'devices/d1/telemetry',
      }),
      event('TelemetryReceived', 'd1', {
        deviceId: 'd1',
        targetId: 't1',
        kind: 'periodic',
        messagesTotal: 12,
        bytesTotal: 480,
        messagesInWindow: 11,
        windowStart: '2030-01-02T00:00:01.000Z',
        firstMessageAt: '2030-01-02T00:00:01.000Z',
        lastMessageAt: '2030-01-02T00:01:00.000Z',
        lastTopic: 'devices/d1/telemetry',
      }),
    );
    const detail = await deviceDetail(store, 'd1');
    expect(detail.certificate).toMatchObject({
      subject: 'CN=d1',
      issuer: 'CN=acme issuing',
      serialNumber: '0a0b',
      fingerprintSha256: digest,
      notBefore: '2030-01-01T00:00:00.000Z',
    });
    expect(detail.connection).toBe('connected');
    expect(detail.targets[0]).toMatchObject({
      targetId: 't1',
      status: 'onboarded',
      connected: true,
      tlsProtocol: 'TLSv1.3',
    });
    expect(detail.telemetry).toEqual({
      messagesTotal: 12,
      lastMessageAt: '2030-01-02T00:01:00.000Z',
      lastTopic: 'devices/d1/telemetry',
    });
    expect((await listDevices(store, page)).items[0]).toMatchObject({
      messagesTotal: 12,
      lastTelemetryAt: '2030-01-02T00:01:00.000Z',
      targets: [{ targetId: 't1', status: 'onboarded', connected: true }],
    });
    expect((await batchProgress(store, 'b1')).connected).toBe(1);

    await given('onboarding', disconnected('d1'));
    expect((await deviceDetail(store, 'd1')).connection).toBe('disconnected');
    expect((await batchProgress(store, 'b1')).connected).toBe(0);
  });

  it('makes Revoked final', async () => {
    await given('registry', imported('d1'), verified('d1'), certified('d1'), revoked('d1'));
    await given('onboarding', onboarded('d1'));
    expect(await deviceDetail(store, 'd1')).toMatchObject({
      state: 'Revoked',
      revocation: { reason: 'keyCompromise' },
    });
    expect((await batchProgress(store, 'b1')).counts).toMatchObject({ Revoked: 1, Certified: 0, Onboarded: 0 });
  });

  it('shows a renewal: why and when, the certificate it replaced, and when that one was revoked', async () => {
    await given('registry', imported('d1'), verified('d1'), certified('d1'));
    const ids = { renewalId: 'rn-1', deviceId: 'd1', operationId: 'op-1' };
    const previous = {
      authorityId: 'issuing-acme',
      serialNumber: '0a0b',
      keyId: 'tls-0',
      notAfter: '2031-01-01T00:00:00.000Z',
    };
    await given(
      'ca',
      event('CertificateRenewalRequested', 'rn-1', {
        ...ids,
        reason: 'key-exposure',
        requestId: 'r-2',
        keyId: 'tls-1',
        previous,
        expiresAt: '2030-01-01T01:00:00.000Z',
      }),
    );
    expect(await deviceDetail(store, 'd1')).toMatchObject({
      renewal: { renewalId: 'rn-1', reason: 'key-exposure', status: 'requested' },
    });
    await given(
      'ca',
      event('DeviceCertificateRenewed', 'rn-1', {
        ...ids,
        reason: 'key-exposure',
        requestId: 'r-2',
        authorityId: 'issuing-acme',
        serialNumber: '0c0d',
        keyId: 'tls-1',
        fingerprintSha256: digest,
        notBefore: '2030-01-01T00:00:00.000Z',
        notAfter: '2031-01-01T00:00:00.000Z',
        previous,
      }),
    );
    const renewed = await deviceDetail(store, 'd1');
    expect(renewed.previousCertificate).toEqual(previous);
    expect(renewed.renewal?.status).toBe('renewed');
    await given(
      'ca',
      event('CertificateRenewalCompleted', 'rn-1', {
        ...ids,
        serialNumber: '0c0d',
        targetId: 't1',
        switchedAt: '2030-01-01T00:00:30.000Z',
        revokedPrevious: { authorityId: 'issuing-acme', serialNumber: '0a0b', revokedAt: '2030-01-01T00:00:30.000Z' },
      }),
    );
    expect(await deviceDetail(store, 'd1')).toMatchObject({
      previousCertificate: { serialNumber: '0a0b', revokedAt: '2030-01-01T00:00:30.000Z' },
      renewal: { reason: 'key-exposure', status: 'completed', statusAt: '2030-01-01T00:00:30.000Z' },
    });
  });

  it('applies an event committed again after a crash before its checkpoint once (no double counting)', async () => {
    let crashes = 0;
    const crashing = new Fixture({
      beforeCheckpoint: (projection) => {
        if (projection === 'fleet' && crashes++ === 1)
          throw new Error('process died after the data, before the checkpoint');
      },
    });
    await crashing.given(
      'registry',
      event('BatchCreated', 'b1', { batchId: 'b1', name: 'fridges', policyId: 'p1', ownerId: 'acme', expectedSize: 3 }),
    );
    await crashing.given(
      'registry',
      event('IdentitiesImported', 'b1', { batchId: 'b1', importId: 'i1', source: 'json', accepted: 1, rejected: 2 }),
      imported('d1'),
    );
    expect(crashes).toBeGreaterThan(2);
    expect(await batchProgress(crashing.store, 'b1')).toMatchObject({ devices: 1, imports: 1, rejectedRows: 2 });
    expect(await crashing.store.checkpoint('fleet', 'registry')).toBe(3);
    expect(crashing.readModels.ready).toBe(true);
    await crashing.readModels.stop();
  });

  it('counts a connection once however many DeviceConnected facts arrive', async () => {
    await given('registry', imported('d1'), verified('d1'), certified('d1'));
    await given(
      'onboarding',
      targetRegistered('t1'),
      onboarded('d1'),
      connected('d1'),
      connected('d1'),
      connected('d1'),
    );
    expect(await target(store, 't1')).toMatchObject({ onboarded: 1, connected: 1 });
    expect((await batchProgress(store, 'b1')).connected).toBe(1);
    await given('onboarding', disconnected('d1'), disconnected('d1'));
    expect(await target(store, 't1')).toMatchObject({ onboarded: 1, connected: 0 });
  });

  it('rebuilds from the log (one context after the other) to what the live, interleaved feed built', async () => {
    await given('onboarding', targetRegistered('t1'));
    await given(
      'registry',
      imported('d1'),
      imported('d2'),
      imported('d3'),
      verified('d1'),
      verified('d2'),
      verified('d3'),
    );
    await given('registry', certified('d1'), certified('d2'));
    await given('onboarding', onboarded('d1'), connected('d1'), onboarded('d2'), connected('d2'));
    await given('registry', certified('d3'), revoked('d2'));
    await given(
      'onboarding',
      disconnected('d2'),
      event('DeviceDeprovisioned', 'd2', { deviceId: 'd2', targetId: 't1', reason: 'revoked' }),
      onboarded('d3'),
    );
    const rebuilt = await fixture.rebuilt();
    const answers = async (s: ProjectionStore) => ({
      batch: await batchProgress(s, 'b1'),
      devices: await listDevices(s, page),
      details: await Promise.all(['d1', 'd2', 'd3'].map((id) => deviceDetail(s, id))),
      targets: await listTargets(s, page),
    });
    const live = await answers(store);
    expect(await answers(rebuilt.store)).toEqual(live);
    await rebuilt.stop();
    expect(live.batch.counts).toMatchObject({ Onboarded: 2, Revoked: 1 });
    expect(live.targets.items[0]).toMatchObject({ onboarded: 2, connected: 1 });
  });

  it('filters and pages the device list on the server, on declared indexes', async () => {
    await given(
      'registry',
      event('BatchCreated', 'b2', {
        batchId: 'b2',
        name: 'other',
        policyId: 'p1',
        ownerId: 'acme',
        expectedSize: 1_000,
      }),
    );
    await given('registry', ...Array.from({ length: 1_000 }, (_, i) => imported(`dev-${i}`, 'b2')));
    await given('registry', ...Array.from({ length: 500 }, (_, i) => verified(`dev-${i * 2}`)));
    await given('onboarding', onboarded('dev-1'), connected('dev-1'));
    const verifiedPage = await listDevices(store, { batchId: 'b2', state: 'Verified', limit: 50, offset: 100 });
    expect(verifiedPage.total).toBe(500);
    expect(verifiedPage.items).toHaveLength(50);
    expect(verifiedPage.items[0]!.deviceId).toBe('dev-200'); // import order
    expect((await listDevices(store, { batchId: 'b2', q: 'dev-99', limit: 50, offset: 0 })).total).toBe(11);
    expect(
      (await listDevices(store, { connection: 'connected', limit: 50, offset: 0 })).items.map((d) => d.deviceId),
    ).toEqual(['dev-1']);
    expect(
      (await listDevices(store, { targetId: 't1', connection: 'connected', batchId: 'b1', limit: 50, offset: 0 }))
        .total,
    ).toBe(1);
    await expect(
      listDevices(store, { targetId: 't1', state: 'Onboarded', limit: 50, offset: 0 }),
    ).rejects.toMatchObject({ code: 'MALFORMED' });
    // Every filter the API offers, alone and together, is answered on indexes (the store refuses others).
    for (const state of [undefined, ...deviceStates]) {
      for (const connection of [undefined, ...connectionStates]) {
        await listDevices(store, {
          batchId: 'b2',
          q: 'dev-1',
          limit: 10,
          offset: 0,
          ...(state ? { state } : {}),
          ...(connection ? { connection } : {}),
        });
        await listDevices(store, {
          limit: 10,
          offset: 0,
          ...(state ? { state } : {}),
          ...(connection ? { connection } : {}),
        });
        if (!state)
          await listDevices(store, {
            targetId: 't1',
            batchId: 'b1',
            q: 'dev',
            limit: 10,
            offset: 0,
            ...(connection ? { connection } : {}),
          });
      }
    }
  });
});

describe('catalog view: policies and targets', () => {
  it('lists policies and targets with their counts', async () => {
    const fixture = new Fixture();
    const policyDefined = event('ServerPolicyDefined', 'p1', {
      policyId: 'p1',
      name: 'Fridges',
      targetIds: ['t1'],
      topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish' }],
      certificateLifetimeDays: 30,
    });
    await fixture.given('registry', policyDefined);
    const anchor = event('TargetTrustAnchorInstalled', 't1', {
      targetId: 't1',
      authorityId: 'issuing-acme',
      fingerprintSha256: digest,
    });
    await fixture.given('onboarding', targetRegistered('t1'), anchor, onboarded('d1'));
    const { store } = fixture;
    expect((await listPolicies(store, page)).items[0]).toEqual({
      policyId: 'p1',
      name: 'Fridges',
      targetIds: ['t1'],
      topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish' }],
      certificateLifetimeDays: 30,
      // Stored as v1 (before owners): the default owner.
      ownerId: 'default',
      definedAt: expect.any(String),
    });
    const [t1] = (await listTargets(store, page)).items;
    expect(t1).toMatchObject({
      targetId: 't1',
      host: 'broker.local',
      onboarded: 1,
      connected: 0,
      trustAnchors: { 'issuing-acme': { fingerprintSha256: digest } },
    });
    expect(JSON.stringify(t1)).not.toContain('password');
    await fixture.readModels.stop();
  });
});

describe('owners in the read models', () => {
  it("policies and targets carry their owner (v1: the default one); each owner's lists hold only its own", async () => {
    const fixture = new Fixture();
    const policy = (policyId: string, ownerId?: string) =>
      event(
        'ServerPolicyDefined',
        policyId,
        {
          policyId,
          name: policyId,
          targetIds: [],
          topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish' }],
          certificateLifetimeDays: 30,
          ...(ownerId ? { ownerId } : {}),
        },
        ownerId ? 2 : 1,
      );
    await fixture.given('registry', policy('p-old'), policy('p-acme', 'acme'), policy('p-globex', 'globex'));
    const acmeTarget = { ...targetRegistered('t-acme'), version: 2 };
    (acmeTarget.data as Record<string, unknown>).ownerId = 'acme';
    await fixture.given('onboarding', targetRegistered('t-old'), acmeTarget);
    await fixture.given(
      'registry',
      event('BatchCreated', 'b-acme', {
        batchId: 'b-acme',
        name: 'a',
        policyId: 'p-acme',
        ownerId: 'acme',
        expectedSize: 2,
      }),
      event('BatchCreated', 'b-globex', {
        batchId: 'b-globex',
        name: 'g',
        policyId: 'p-globex',
        ownerId: 'globex',
        expectedSize: 2,
      }),
      imported('d-acme', 'b-acme'),
      imported('d-globex', 'b-globex'),
    );
    const { store } = fixture;
    const ids = <T>(items: T[], key: keyof T) => items.map((item) => item[key]);
    expect(ids((await listPolicies(store, page, 'acme')).items, 'policyId')).toEqual(['p-acme']);
    expect(ids((await listPolicies(store, page, 'default')).items, 'policyId')).toEqual(['p-old']);
    expect(ids((await listPolicies(store, page)).items, 'policyId')).toEqual(['p-acme', 'p-globex', 'p-old']);
    expect(ids((await listTargets(store, page, 'acme')).items, 'targetId')).toEqual(['t-acme']);
    expect(ids((await listTargets(store, page, 'default')).items, 'targetId')).toEqual(['t-old']);
    expect(ids((await listBatches(store, page, 'globex')).items, 'batchId')).toEqual(['b-globex']);
    expect(ids((await listDevices(store, page, ['b-acme'])).items, 'deviceId')).toEqual(['d-acme']);
    expect((await listDevices(store, page, [])).total).toBe(0);
    expect((await listDevices(store, page)).total).toBe(2);
    await fixture.readModels.stop();
  });
});
