import type { BoundedContext, EventEnvelope } from '@tunnelkey/contracts';
import { MemoryReadStore } from '../read-model/memory-read-store.js';
import { batchProgress, listBatches } from '../queries/batch-progress/batch-progress.query.js';
import { deviceDetail } from '../queries/device-detail/device-detail.query.js';
import { listDevices } from '../queries/device-list/device-list.query.js';
import { listPolicies, listTargets } from '../queries/catalog/catalog.query.js';
import { catalogProjection } from './catalog.projection.js';
import { fleetProjection } from './fleet.projection.js';

const digest = 'a'.repeat(64);
let clock = Date.parse('2030-01-01T00:00:00Z');
const sequences: Record<string, number> = {};

function event(type: string, aggregateId: string, data: Record<string, unknown>): EventEnvelope {
  clock += 1000;
  return { type, version: 1, id: `${type}-${clock}`, aggregateId, occurredAt: new Date(clock).toISOString(), causationId: 'c', correlationId: 'c', data };
}

/** Given events (per context, in their stream order) -> the read model. */
function given(store: MemoryReadStore, context: BoundedContext, ...events: EventEnvelope[]): void {
  for (const e of events) {
    const sequence = (sequences[context] = (sequences[context] ?? 0) + 1);
    for (const projection of [fleetProjection, catalogProjection]) {
      if (!projection.contexts.includes(context)) continue;
      store.apply(projection.name, context, sequence, projection.project(e, { context, sequence }, (c, id) => store.get(c, id)));
    }
  }
}

const imported = (deviceId: string, batchId = 'b1') => event('DeviceIdentityImported', deviceId, { deviceId, batchId, importId: 'i1', source: 'json', enrolmentPublicKey: 'AAAA', enrolmentKeyDigest: digest });
const verified = (deviceId: string) => event('IdentityVerified', deviceId, { deviceId, challengeId: 'ch', nonceDigest: digest, enrolmentKeyDigest: digest });
const certified = (deviceId: string) => event('DeviceCertified', deviceId, { deviceId, authorityId: 'issuing-acme', serialNumber: '0a0b', fingerprintSha256: digest, notAfter: '2031-01-01T00:00:00.000Z' });

describe('fleet projection: given events -> batches and devices', () => {
  let store: MemoryReadStore;
  beforeEach(() => {
    store = new MemoryReadStore();
    for (const key of Object.keys(sequences)) delete sequences[key];
    given(store, 'registry', event('BatchCreated', 'b1', { batchId: 'b1', name: 'fridges', policyId: 'p1', ownerId: 'acme', expectedSize: 3 }));
  });

  it('counts a batch\'s devices per state as they move', () => {
    given(store, 'registry', imported('d1'), imported('d2'), imported('d3'), verified('d1'), verified('d2'), certified('d1'));
    const batch = batchProgress(store, 'b1');
    expect(batch.devices).toBe(3);
    expect(batch.counts).toMatchObject({ Imported: 1, Verified: 1, Certified: 1, Onboarded: 0, Revoked: 0 });
    expect(listBatches(store, { limit: 10, offset: 0 }).total).toBe(1);
  });

  it('counts verification failures without moving the state, and shows the reason on the device', () => {
    given(store, 'registry', imported('d1'), event('IdentityVerificationFailed', 'd1', { deviceId: 'd1', challengeId: 'ch', nonceDigest: digest, reason: 'bad-signature' }));
    expect(batchProgress(store, 'b1')).toMatchObject({ verificationFailures: 1, counts: { Imported: 1 } });
    expect(listDevices(store, { limit: 10, offset: 0 }).items[0]).toMatchObject({ state: 'Imported', problem: 'bad-signature' });
  });

  it('moves a state only forward: an onboarding fact applied before the certification does not go back', () => {
    given(store, 'registry', imported('d1'), verified('d1'));
    given(store, 'onboarding', event('DeviceOnboarded', 'd1', { deviceId: 'd1', targetId: 't1', batchId: 'b1', policyId: 'p1', clientId: 'd1', roleName: 'r', topicPrefix: 'devices/d1' }));
    given(store, 'registry', certified('d1'));
    expect(deviceDetail(store, 'd1').state).toBe('Onboarded');
    expect(batchProgress(store, 'b1').counts).toMatchObject({ Onboarded: 1, Certified: 0, Verified: 0 });
  });

  it('keeps certificate details, connection per target and telemetry counters', () => {
    given(store, 'registry', imported('d1'), verified('d1'));
    given(
      store,
      'ca',
      event('CertificateIssued', 'd1', {
        deviceId: 'd1', requestId: 'r1', authorityId: 'issuing-acme', serialNumber: '0a0b', subject: 'CN=d1', issuer: 'CN=acme issuing', notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2031-01-01T00:00:00.000Z',
        fingerprintSha256: digest, publicKeyDigest: digest, keyId: 'tls-0', certificatePem: 'PEM', chainPem: [],
      }),
    );
    given(store, 'registry', certified('d1'));
    given(
      store,
      'onboarding',
      event('DeviceOnboarded', 'd1', { deviceId: 'd1', targetId: 't1', batchId: 'b1', policyId: 'p1', clientId: 'd1', roleName: 'r', topicPrefix: 'devices/d1' }),
      event('DeviceConnected', 'd1', { deviceId: 'd1', targetId: 't1', clientId: 'd1', connectedAt: '2030-01-02T00:00:00.000Z', tlsProtocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' }),
      event('TelemetryReceived', 'd1', { deviceId: 'd1', targetId: 't1', kind: 'first', messagesTotal: 1, bytesTotal: 40, messagesInWindow: 1, windowStart: '2030-01-02T00:00:01.000Z', firstMessageAt: '2030-01-02T00:00:01.000Z', lastMessageAt: '2030-01-02T00:00:01.000Z', lastTopic: 'devices/d1/telemetry' }),
      event('TelemetryReceived', 'd1', { deviceId: 'd1', targetId: 't1', kind: 'periodic', messagesTotal: 12, bytesTotal: 480, messagesInWindow: 11, windowStart: '2030-01-02T00:00:01.000Z', firstMessageAt: '2030-01-02T00:00:01.000Z', lastMessageAt: '2030-01-02T00:01:00.000Z', lastTopic: 'devices/d1/telemetry' }),
    );
    const detail = deviceDetail(store, 'd1');
    expect(detail.certificate).toMatchObject({ subject: 'CN=d1', issuer: 'CN=acme issuing', serialNumber: '0a0b', fingerprintSha256: digest, notBefore: '2030-01-01T00:00:00.000Z' });
    expect(detail.connection).toBe('connected');
    expect(detail.targets[0]).toMatchObject({ targetId: 't1', status: 'onboarded', connected: true, tlsProtocol: 'TLSv1.3' });
    expect(detail.telemetry).toEqual({ messagesTotal: 12, lastMessageAt: '2030-01-02T00:01:00.000Z', lastTopic: 'devices/d1/telemetry' });
    expect(batchProgress(store, 'b1').connected).toBe(1);

    given(store, 'onboarding', event('DeviceDisconnected', 'd1', { deviceId: 'd1', targetId: 't1', clientId: 'd1', disconnectedAt: '2030-01-03T00:00:00.000Z', reason: 'client-disabled' }));
    expect(deviceDetail(store, 'd1').connection).toBe('disconnected');
    expect(batchProgress(store, 'b1').connected).toBe(0);
  });

  it('makes Revoked final', () => {
    given(store, 'registry', imported('d1'), verified('d1'), certified('d1'), event('DeviceRevoked', 'd1', { deviceId: 'd1', revocationId: 'rv1', reason: 'keyCompromise', revokedAt: '2030-01-05T00:00:00.000Z' }));
    given(store, 'onboarding', event('DeviceOnboarded', 'd1', { deviceId: 'd1', targetId: 't1', batchId: 'b1', policyId: 'p1', clientId: 'd1', roleName: 'r', topicPrefix: 'devices/d1' }));
    expect(deviceDetail(store, 'd1')).toMatchObject({ state: 'Revoked', revocation: { reason: 'keyCompromise' } });
    expect(batchProgress(store, 'b1').counts).toMatchObject({ Revoked: 1, Certified: 0 });
  });

  it('applies an event redelivered at or below the checkpoint once (no double counting)', () => {
    const e = imported('d1');
    const writes = fleetProjection.project(e, { context: 'registry', sequence: 10 }, (c, id) => store.get(c, id));
    expect(store.apply('fleet', 'registry', 10, writes)).toBe(true);
    expect(store.apply('fleet', 'registry', 10, fleetProjection.project(e, { context: 'registry', sequence: 10 }, (c, id) => store.get(c, id)))).toBe(false);
    expect(batchProgress(store, 'b1').devices).toBe(1);
    expect(store.checkpoint('fleet', 'registry')).toBe(10);
  });

  it('filters and pages the device list on the server', () => {
    given(store, 'registry', event('BatchCreated', 'b2', { batchId: 'b2', name: 'other', policyId: 'p1', ownerId: 'acme', expectedSize: 10_000 }));
    for (let i = 0; i < 10_000; i++) given(store, 'registry', imported(`dev-${i}`, 'b2'));
    for (let i = 0; i < 10_000; i += 2) given(store, 'registry', verified(`dev-${i}`));
    const page = listDevices(store, { batchId: 'b2', state: 'Verified', limit: 50, offset: 100 });
    expect(page.total).toBe(5_000);
    expect(page.items).toHaveLength(50);
    expect(page.items[0]!.deviceId).toBe('dev-200');
    expect(listDevices(store, { batchId: 'b2', q: 'dev-999', limit: 50, offset: 0 }).total).toBe(11);
    expect(listDevices(store, { connection: 'connected', limit: 50, offset: 0 }).total).toBe(0);
  });
});

describe('catalog projection: policies and targets', () => {
  it('lists policies and targets with their counts', () => {
    const store = new MemoryReadStore();
    given(store, 'registry', event('ServerPolicyDefined', 'p1', { policyId: 'p1', name: 'Fridges', targetIds: ['t1'], topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish' }], certificateLifetimeDays: 30 }));
    given(
      store,
      'onboarding',
      event('TargetRegistered', 't1', { targetId: 't1', kind: 'mosquitto', name: 'plant broker', host: 'broker.local', tlsPort: 8883, credentialsRef: 'cred-t1' }),
      event('DeviceOnboarded', 'd1', { deviceId: 'd1', targetId: 't1', batchId: 'b1', policyId: 'p1', clientId: 'd1', roleName: 'r', topicPrefix: 'devices/d1' }),
    );
    expect(listPolicies(store, { limit: 10, offset: 0 }).items[0]).toMatchObject({ policyId: 'p1', targetIds: ['t1'], certificateLifetimeDays: 30 });
    expect(listTargets(store, { limit: 10, offset: 0 }).items[0]).toMatchObject({ targetId: 't1', host: 'broker.local', onboarded: 1, connected: 0 });
    expect(JSON.stringify(listTargets(store, { limit: 10, offset: 0 }))).not.toContain('password');
  });
});
