import type { BoundedContext, EventEnvelope } from '@tunnelkey/contracts';
import { EmbeddedProjectionStore, sourceKey, type ProjectionStore, type StoredProjection } from '@tunnelkey/projection-store';
import { batchProgress, listBatches } from '../queries/batch-progress/batch-progress.query.js';
import { deviceDetail } from '../queries/device-detail/device-detail.query.js';
import { listDevices } from '../queries/device-list/device-list.query.js';
import { listPolicies, listTargets, target } from '../queries/catalog/catalog.query.js';
import { catalogProjection } from './catalog.projection.js';
import { fleetProjection } from './fleet.projection.js';
import { connectionStates, deviceStates } from './fleet.views.js';

const digest = 'a'.repeat(64);
let clock = Date.parse('2030-01-01T00:00:00Z');
const projections = [fleetProjection, catalogProjection];

const aggregateOf = (type: string) => (type.startsWith('Batch') || type === 'IdentitiesImported' ? 'batch' : type === 'ServerPolicyDefined' ? 'policy' : type.startsWith('Target') ? 'target' : 'device');

interface Fact {
  context: BoundedContext;
  event: EventEnvelope;
}

function event(type: string, aggregateId: string, data: Record<string, unknown>): EventEnvelope {
  clock += 1000;
  return { type, version: 1, id: `${type}-${clock}`, aggregateId, occurredAt: new Date(clock).toISOString(), causationId: 'c', correlationId: 'c', data };
}

/** A log: events per context in stream order, each with its stream sequence. */
class Log {
  readonly facts: (Fact & { sequence: number })[] = [];
  readonly #sequences = new Map<BoundedContext, number>();
  add(context: BoundedContext, ...events: EventEnvelope[]): void {
    for (const e of events) {
      const sequence = (this.#sequences.get(context) ?? 0) + 1;
      this.#sequences.set(context, sequence);
      this.facts.push({ context, event: e, sequence });
    }
  }
}

/** Applies facts to the store as the runner does: one commit per event and projection source. */
async function apply(store: ProjectionStore, facts: readonly (Fact & { sequence: number })[]): Promise<void> {
  for (const { context, event: e, sequence } of facts) {
    const aggregate = aggregateOf(e.type);
    for (const projection of projections as StoredProjection[]) {
      const source = projection.sources.find((s) => s.context === context && (!s.aggregate || s.aggregate === aggregate));
      if (!source) continue;
      const recorded = { event: e, sequence, subject: `${context}.${aggregate}.${e.aggregateId}` };
      const writes = projection.evolve(recorded).map((w) => ({ ...w, sequence }));
      await store.commit(projection.name, sequence, writes, { source: sourceKey(source) });
    }
  }
}

async function newStore(): Promise<ProjectionStore> {
  const store = new EmbeddedProjectionStore();
  for (const projection of projections) await store.define(projection);
  return store;
}

const imported = (deviceId: string, batchId = 'b1') => event('DeviceIdentityImported', deviceId, { deviceId, batchId, importId: 'i1', source: 'json', enrolmentPublicKey: 'AAAA', enrolmentKeyDigest: digest });
const verified = (deviceId: string) => event('IdentityVerified', deviceId, { deviceId, challengeId: 'ch', nonceDigest: digest, enrolmentKeyDigest: digest });
const certified = (deviceId: string) => event('DeviceCertified', deviceId, { deviceId, authorityId: 'issuing-acme', serialNumber: '0a0b', fingerprintSha256: digest, notAfter: '2031-01-01T00:00:00.000Z' });
const onboarded = (deviceId: string, targetId = 't1') => event('DeviceOnboarded', deviceId, { deviceId, targetId, batchId: 'b1', policyId: 'p1', clientId: deviceId, roleName: 'r', topicPrefix: `devices/${deviceId}` });
const connected = (deviceId: string, targetId = 't1') => event('DeviceConnected', deviceId, { deviceId, targetId, clientId: deviceId, connectedAt: '2030-01-02T00:00:00.000Z', tlsProtocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' });
const disconnected = (deviceId: string, targetId = 't1') => event('DeviceDisconnected', deviceId, { deviceId, targetId, clientId: deviceId, disconnectedAt: '2030-01-03T00:00:00.000Z', reason: 'client-disabled' });
const revoked = (deviceId: string) => event('DeviceRevoked', deviceId, { deviceId, revocationId: 'rv1', reason: 'keyCompromise', revokedAt: '2030-01-05T00:00:00.000Z' });
const targetRegistered = (targetId = 't1') => event('TargetRegistered', targetId, { targetId, kind: 'mosquitto', name: `broker ${targetId}`, host: 'broker.local', tlsPort: 8883, credentialsRef: 'cred' });
const page = { limit: 50, offset: 0 };

describe('fleet projection: given events -> batches and devices', () => {
  let store: ProjectionStore;
  let log: Log;
  const given = async (context: BoundedContext, ...events: EventEnvelope[]) => {
    const from = log.facts.length;
    log.add(context, ...events);
    await apply(store, log.facts.slice(from));
  };

  beforeEach(async () => {
    store = await newStore();
    log = new Log();
    await given('registry', event('BatchCreated', 'b1', { batchId: 'b1', name: 'fridges', policyId: 'p1', ownerId: 'acme', expectedSize: 3 }));
  });

  it("counts a batch's devices per state as they move", async () => {
    await given('registry', imported('d1'), imported('d2'), imported('d3'), verified('d1'), verified('d2'), certified('d1'));
    const batch = await batchProgress(store, 'b1');
    expect(batch.devices).toBe(3);
    expect(batch.counts).toEqual({ Announced: 0, Imported: 1, Verified: 1, Certified: 1, Onboarded: 0, Transferred: 0, Revoked: 0 });
    expect((await listBatches(store, page)).items[0]).toMatchObject({ batchId: 'b1', name: 'fridges', devices: 3 });
  });

  it('counts verification failures without moving the state, and shows the reason on the device', async () => {
    await given('registry', imported('d1'), event('IdentityVerificationFailed', 'd1', { deviceId: 'd1', challengeId: 'ch', nonceDigest: digest, reason: 'bad-signature' }));
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
        deviceId: 'd1', requestId: 'r1', authorityId: 'issuing-acme', serialNumber: '0a0b', subject: 'CN=d1', issuer: 'CN=acme issuing', notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2031-01-01T00:00:00.000Z',
        fingerprintSha256: digest, publicKeyDigest: digest, keyId: 'tls-0', certificatePem: 'PEM', chainPem: [],
      }),
    );
    await given('registry', certified('d1'));
    await given(
      'onboarding',
      onboarded('d1'),
      connected('d1'),
      event('TelemetryReceived', 'd1', { deviceId: 'd1', targetId: 't1', kind: 'first', messagesTotal: 1, bytesTotal: 40, messagesInWindow: 1, windowStart: '2030-01-02T00:00:01.000Z', firstMessageAt: '2030-01-02T00:00:01.000Z', lastMessageAt: '2030-01-02T00:00:01.000Z', lastTopic: 'devices/d1/telemetry' }),
      event('TelemetryReceived', 'd1', { deviceId: 'd1', targetId: 't1', kind: 'periodic', messagesTotal: 12, bytesTotal: 480, messagesInWindow: 11, windowStart: '2030-01-02T00:00:01.000Z', firstMessageAt: '2030-01-02T00:00:01.000Z', lastMessageAt: '2030-01-02T00:01:00.000Z', lastTopic: 'devices/d1/telemetry' }),
    );
    const detail = await deviceDetail(store, 'd1');
    expect(detail.certificate).toMatchObject({ subject: 'CN=d1', issuer: 'CN=acme issuing', serialNumber: '0a0b', fingerprintSha256: digest, notBefore: '2030-01-01T00:00:00.000Z' });
    expect(detail.connection).toBe('connected');
    expect(detail.targets[0]).toMatchObject({ targetId: 't1', status: 'onboarded', connected: true, tlsProtocol: 'TLSv1.3' });
    expect(detail.telemetry).toEqual({ messagesTotal: 12, lastMessageAt: '2030-01-02T00:01:00.000Z', lastTopic: 'devices/d1/telemetry' });
    expect((await listDevices(store, page)).items[0]).toMatchObject({ messagesTotal: 12, lastTelemetryAt: '2030-01-02T00:01:00.000Z', targets: [{ targetId: 't1', status: 'onboarded', connected: true }] });
    expect((await batchProgress(store, 'b1')).connected).toBe(1);

    await given('onboarding', disconnected('d1'));
    expect((await deviceDetail(store, 'd1')).connection).toBe('disconnected');
    expect((await batchProgress(store, 'b1')).connected).toBe(0);
  });

  it('makes Revoked final', async () => {
    await given('registry', imported('d1'), verified('d1'), certified('d1'), revoked('d1'));
    await given('onboarding', onboarded('d1'));
    expect(await deviceDetail(store, 'd1')).toMatchObject({ state: 'Revoked', revocation: { reason: 'keyCompromise' } });
    expect((await batchProgress(store, 'b1')).counts).toMatchObject({ Revoked: 1, Certified: 0, Onboarded: 0 });
  });

  it('applies an event redelivered at or below its sequence once (no double counting)', async () => {
    await given('registry', event('IdentitiesImported', 'b1', { batchId: 'b1', importId: 'i1', accepted: 1, rejected: 2 }), imported('d1'));
    await apply(store, log.facts.slice(-2)); // the same two events again, as after a crash before the checkpoint
    expect(await batchProgress(store, 'b1')).toMatchObject({ devices: 1, imports: 1, rejectedRows: 2 });
    expect(await store.checkpoint('fleet', 'registry')).toBe(3);
  });

  it('counts a connection once however many DeviceConnected facts arrive', async () => {
    await given('registry', imported('d1'), verified('d1'), certified('d1'));
    await given('onboarding', targetRegistered('t1'), onboarded('d1'), connected('d1'), connected('d1'), connected('d1'));
    expect(await target(store, 't1')).toMatchObject({ onboarded: 1, connected: 1 });
    expect((await batchProgress(store, 'b1')).connected).toBe(1);
    await given('onboarding', disconnected('d1'), disconnected('d1'));
    expect(await target(store, 't1')).toMatchObject({ onboarded: 1, connected: 0 });
  });

  it('rebuilds from the log (one context after the other) to what the live, interleaved feed built', async () => {
    await given('onboarding', targetRegistered('t1'));
    await given('registry', imported('d1'), imported('d2'), imported('d3'), verified('d1'), verified('d2'), verified('d3'));
    await given('registry', certified('d1'), certified('d2'));
    await given('onboarding', onboarded('d1'), connected('d1'), onboarded('d2'), connected('d2'));
    await given('registry', certified('d3'), revoked('d2'));
    await given('onboarding', disconnected('d2'), event('DeviceDeprovisioned', 'd2', { deviceId: 'd2', targetId: 't1', clientId: 'd2' }), onboarded('d3'));
    const rebuilt = await newStore();
    for (const context of ['registry', 'ca', 'onboarding'] as const) await apply(rebuilt, log.facts.filter((f) => f.context === context));
    const answers = async (s: ProjectionStore) => ({
      batch: await batchProgress(s, 'b1'),
      devices: await listDevices(s, page),
      details: await Promise.all(['d1', 'd2', 'd3'].map((id) => deviceDetail(s, id))),
      targets: await listTargets(s, page),
    });
    const live = await answers(store);
    expect(await answers(rebuilt)).toEqual(live);
    expect(live.batch.counts).toMatchObject({ Onboarded: 2, Revoked: 1 });
    expect(live.targets.items[0]).toMatchObject({ onboarded: 2, connected: 1 });
  });

  it('filters and pages the device list on the server, on declared indexes', async () => {
    await given('registry', event('BatchCreated', 'b2', { batchId: 'b2', name: 'other', policyId: 'p1', ownerId: 'acme', expectedSize: 10_000 }));
    for (let i = 0; i < 10_000; i++) await given('registry', imported(`dev-${i}`, 'b2'));
    for (let i = 0; i < 10_000; i += 2) await given('registry', verified(`dev-${i}`));
    await given('onboarding', onboarded('dev-1'), connected('dev-1'));
    const verifiedPage = await listDevices(store, { batchId: 'b2', state: 'Verified', limit: 50, offset: 100 });
    expect(verifiedPage.total).toBe(5_000);
    expect(verifiedPage.items).toHaveLength(50);
    expect(verifiedPage.items[0]!.deviceId).toBe('dev-200'); // import order
    expect((await listDevices(store, { batchId: 'b2', q: 'dev-999', limit: 50, offset: 0 })).total).toBe(11);
    expect((await listDevices(store, { connection: 'connected', limit: 50, offset: 0 })).items.map((d) => d.deviceId)).toEqual(['dev-1']);
    expect((await listDevices(store, { targetId: 't1', connection: 'connected', batchId: 'b1', limit: 50, offset: 0 })).total).toBe(1);
    await expect(listDevices(store, { targetId: 't1', state: 'Onboarded', limit: 50, offset: 0 })).rejects.toMatchObject({ code: 'MALFORMED' });
    // Every filter the API offers, alone and together, is answered on indexes (the store refuses others).
    for (const state of [undefined, ...deviceStates]) {
      for (const connection of [undefined, ...connectionStates]) {
        await listDevices(store, { batchId: 'b2', q: 'dev-1', limit: 10, offset: 0, ...(state ? { state } : {}), ...(connection ? { connection } : {}) });
        await listDevices(store, { limit: 10, offset: 0, ...(state ? { state } : {}), ...(connection ? { connection } : {}) });
        if (!state) await listDevices(store, { targetId: 't1', batchId: 'b1', q: 'dev', limit: 10, offset: 0, ...(connection ? { connection } : {}) });
      }
    }
  });
});

describe('catalog projection: policies and targets', () => {
  it('lists policies and targets with their counts', async () => {
    const store = await newStore();
    const log = new Log();
    log.add('registry', event('ServerPolicyDefined', 'p1', { policyId: 'p1', name: 'Fridges', targetIds: ['t1'], topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish' }], certificateLifetimeDays: 30 }));
    log.add('onboarding', targetRegistered('t1'), event('TargetTrustAnchorInstalled', 't1', { targetId: 't1', authorityId: 'issuing-acme', fingerprintSha256: digest }), onboarded('d1'));
    await apply(store, log.facts);
    expect((await listPolicies(store, page)).items[0]).toEqual({ policyId: 'p1', name: 'Fridges', targetIds: ['t1'], topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish' }], certificateLifetimeDays: 30, definedAt: expect.any(String) });
    const [t1] = (await listTargets(store, page)).items;
    expect(t1).toMatchObject({ targetId: 't1', host: 'broker.local', onboarded: 1, connected: 0, trustAnchors: { 'issuing-acme': { fingerprintSha256: digest } } });
    expect(JSON.stringify(t1)).not.toContain('password');
  });
});
