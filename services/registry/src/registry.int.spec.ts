import 'reflect-metadata';
import { createHash, generateKeyPairSync, randomUUID, webcrypto } from 'node:crypto';
import {
  AnnounceMessage,
  CertificateIssued,
  CreateBatch,
  DecideHeldEnrolments,
  DefineServerPolicy,
  IdentityResponseMessage,
  ImportIdentities,
  RequestEnrolmentKeys,
  streamName,
  VerifyIdentity,
  type ResultOf,
} from '@tunnelkey/contracts';
import { generatePlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { CommandClient, CommandFailed } from '@tunnelkey/messaging';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';
import { AnnouncedDevices } from './shared/announced-devices.js';
import { RegistryMetrics } from './shared/registry-metrics.js';
import { startRegistry, type RunningRegistry } from './start-registry.js';
import { TestDevice, TestFleet, testFirmwareMeasurement } from './test-support/test-fleet.js';
import { UnansweredChallengesJob } from './verify-identity/unanswered-challenges.job.js';
import type { BatchSummary } from './views/batch-summary.view.js';
import type { DeviceDetail } from './views/device-by-id.view.js';
import type { EnrolmentKeyRequestReport } from './views/enrolment-key-requests.view.js';
import { registryQuerySubjects } from './views/registry-queries.ms-controller.js';

// Real NATS (NATS_URL or loopback), one namespace for this file; the device side signs for real.
// Every test sets up its own batches and devices: none depends on another having run.
const nats = natsFixture({ prefix: 'reg' });
const logger = pino({ level: 'warn' });
let platformKey: PlatformKey;
let registry: RunningRegistry;
let client: CommandClient;
let fleet: TestFleet;
const ns = () => nats.namespace;

const command = <R>(definition: { subject(ns?: string): string }, payload: object, commandId: string = randomUUID()) =>
  client.request<R>(definition.subject(ns()), { commandId, ...payload }, { timeoutMs: 30_000 });
const query = <R>(subject: string, payload: object) => client.request<R>(`${ns()}.${subject}`, payload);
const deviceDetail = (deviceId: string) => query<DeviceDetail>(registryQuerySubjects.device, { deviceId });
const batchSummary = (batchId: string) => query<BatchSummary>(registryQuerySubjects.batchSummary, { batchId });
/** The registry's dropped-uplink counters, by reason. */
const dropped = async (): Promise<Record<string, number>> =>
  Object.fromEntries(
    (await registry.service.app.get(RegistryMetrics).uplinksDropped.get()).values.map((v) => [
      String(v.labels.reason),
      v.value,
    ]),
  );
const storedEvents = async () => (await nats.jsm.streams.info(streamName('registry', ns()))).state.messages;
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof CommandFailed ? error.code : String(error)),
  );
// The registry's clock, movable so a test can let a challenge expire without waiting.
let clockOffsetMs = 0;
const clock = () => new Date(Date.now() + clockOffsetMs);
const start = () =>
  startRegistry({ nats: nats.nc, namespace: ns(), platformKey, logger, clock, nestLogger: ['error'] });

const policy = {
  policyId: 'fridges',
  name: 'Fridges on the EU broker',
  targetIds: ['mosquitto-eu'],
  topicRights: [{ topic: 'fridges/{deviceId}/#', access: 'publish-subscribe' as const }],
  certificateLifetimeDays: 365,
};

// Devices are manufactured once; each test takes its own, never used by another test.
const pool: TestDevice[] = [];
const take = (count: number): TestDevice[] => {
  if (pool.length < count) throw new Error('test device pool exhausted: manufacture more in beforeAll');
  return pool.splice(0, count);
};

/** A policy (the same one, defined idempotently) and a fresh batch; optionally its devices imported. */
async function batchWith(devices: TestDevice[], expectedSize = devices.length): Promise<string> {
  const batchId = `b-${randomUUID().slice(0, 8)}`;
  await command(DefineServerPolicy, policy);
  await command(CreateBatch, { batchId, name: batchId, policyId: policy.policyId, ownerId: 'acme', expectedSize });
  if (devices.length > 0) {
    const rows = devices.map((d) => d.identityRow);
    const report = await command<ResultOf<typeof ImportIdentities>>(ImportIdentities, {
      batchId,
      importId: 'setup',
      source: { format: 'json', rows },
    });
    expect(report.accepted).toBe(devices.length);
  }
  return batchId;
}

async function verified(devices: TestDevice[]): Promise<void> {
  await command(VerifyIdentity, { scope: { kind: 'devices', deviceIds: devices.map((d) => d.deviceId) } });
  for (const device of devices) {
    await waitFor(async () => (await deviceDetail(device.deviceId)).status === 'Verified', {
      description: `${device.deviceId} verified`,
    });
  }
}

describe('registry against real NATS: policy, batch, import, verify, announce, certificates, restart', () => {
  beforeAll(async () => {
    await nats.setup();
    platformKey = (await generatePlatformKey()).key;
    registry = await start();
    client = new CommandClient(nats.nc);
    for (let i = 0; i < 60; i++) pool.push(await TestDevice.manufacture(`registry-int-${i}`));
    fleet = new TestFleet(nats.nc, ns(), platformKey);
    fleet.add(...pool);
    await fleet.start();
  }, 120_000);

  afterAll(async () => {
    fleet?.stop();
    await registry?.stop();
    await nats.teardown();
  });

  it('is ready once its views are rebuilt', async () => {
    expect((await fetch(`${registry.url}/ready`)).status).toBe(200);
  });

  it('defines a policy and creates batches; a batch needs a defined policy; a retry is idempotent', async () => {
    const commandId = randomUUID();
    const own = { ...policy, policyId: `p-${randomUUID().slice(0, 8)}` };
    await expect(command(DefineServerPolicy, own, commandId)).resolves.toEqual({ policyId: own.policyId });
    const before = await storedEvents();
    await expect(command(DefineServerPolicy, own, commandId)).resolves.toEqual({ policyId: own.policyId });
    await expect(command(DefineServerPolicy, own)).resolves.toEqual({ policyId: own.policyId });
    expect(await storedEvents()).toBe(before);
    expect(await refusal(command(DefineServerPolicy, { ...own, certificateLifetimeDays: 1 }))).toBe('CONFLICT');

    const orphan = {
      batchId: `orphan-${randomUUID().slice(0, 8)}`,
      name: 'no policy',
      policyId: 'missing',
      ownerId: 'acme',
      expectedSize: 10,
    };
    expect(await refusal(command(CreateBatch, orphan))).toBe('unknown-policy');
    const batchId = `b-${randomUUID().slice(0, 8)}`;
    await command(CreateBatch, { batchId, name: 'fridges', policyId: own.policyId, ownerId: 'acme', expectedSize: 5 });
    expect(await batchSummary(batchId)).toMatchObject({ batchId, devices: 0, imports: 0 });
    const [device] = take(1) as [TestDevice];
    const rows = [device.identityRow];
    expect(
      await refusal(command(ImportIdentities, { batchId: 'nope', importId: 'i-0', source: { format: 'json', rows } })),
    ).toBe('NOT_FOUND');
  });

  it('imports identities with a per-row report; a retry or a re-import of the same rows writes nothing', async () => {
    const devices = take(6);
    const [first, second, inOtherBatch] = devices as [TestDevice, TestDevice, TestDevice];
    const otherBatch = await batchWith([inOtherBatch]);
    const batchId = await batchWith([], 10);

    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
      .publicKey.export({ format: 'der', type: 'spki' })
      .toString('base64');
    const pem = `-----BEGIN PUBLIC KEY-----\n${second.enrolmentPublicKeyBase64.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
    const rows = [
      ...devices.filter((d) => d !== second && d !== inOtherBatch).map((d) => d.identityRow), // rows 1..4
      { deviceId: second.deviceId, enrolmentPublicKey: pem }, // 5: PEM is fine
      { deviceId: first.deviceId, enrolmentPublicKey: second.enrolmentPublicKeyBase64 }, // 6: id of another key
      { deviceId: 'd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', enrolmentPublicKey: p384 }, // 7
      { deviceId: 'd-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', enrolmentPublicKey: 'bm90IGEga2V5' }, // 8: base64 of "not a key"
      first.identityRow, // 9: duplicate of row 1
      inOtherBatch.identityRow, // 10
      { deviceId: 'not a device id', enrolmentPublicKey: first.enrolmentPublicKeyBase64 }, // 11
      { deviceId: 5, enrolmentPublicKey: first.enrolmentPublicKeyBase64 }, // 12
    ];
    const importCommandId = randomUUID();
    const payload = { batchId, importId: 'file-1', source: { format: 'json', rows } };
    const report = await command<ResultOf<typeof ImportIdentities>>(ImportIdentities, payload, importCommandId);
    expect(report).toMatchObject({ batchId, importId: 'file-1', accepted: 5, rejected: 7 });
    expect(report.rows.slice(4)).toEqual([
      { row: 5, deviceId: second.deviceId, status: 'accepted' },
      { row: 6, deviceId: first.deviceId, status: 'rejected', reason: 'id-mismatch' },
      { row: 7, deviceId: 'd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', status: 'rejected', reason: 'not-p256' },
      { row: 8, deviceId: 'd-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', status: 'rejected', reason: 'malformed-key' },
      { row: 9, deviceId: first.deviceId, status: 'rejected', reason: 'duplicate-in-import' },
      { row: 10, deviceId: inOtherBatch.deviceId, status: 'rejected', reason: 'in-other-batch' },
      { row: 11, status: 'rejected', reason: 'bad-device-id' },
      { row: 12, status: 'rejected', reason: 'invalid-row' },
    ]);
    expect(report.rows.slice(0, 4).every((r) => r.status === 'accepted')).toBe(true);
    expect(await batchSummary(batchId)).toMatchObject({ devices: 5, imports: 1, byStatus: { Imported: 5 } });
    expect((await batchSummary(otherBatch)).devices).toBe(1);
    expect(await deviceDetail(second.deviceId)).toMatchObject({
      status: 'Imported',
      batchId,
      source: 'json',
      enrolmentPublicKey: second.enrolmentPublicKeyBase64,
    });

    const before = await storedEvents();
    expect(await command(ImportIdentities, payload, importCommandId)).toEqual(report);
    expect(await command(ImportIdentities, payload)).toEqual(report);
    expect(await storedEvents()).toBe(before);
  });

  it('refuses rows beyond the batch capacity and reads CSV with metadata columns', async () => {
    const [member, extra, late] = take(3) as [TestDevice, TestDevice, TestDevice];
    const batchId = await batchWith([member], 2);
    const csvRow = (d: TestDevice) => `${d.deviceId},"${d.enrolmentPublicKeyBase64}",lyon`;
    const csv = `deviceId,enrolmentPublicKey,site\n${csvRow(member)}\n${csvRow(extra)}\n`;
    const report = await command<ResultOf<typeof ImportIdentities>>(ImportIdentities, {
      batchId,
      importId: 'file-2',
      source: { format: 'csv', text: csv },
    });
    expect(report.rows).toEqual([
      { row: 2, deviceId: member.deviceId, status: 'accepted' },
      { row: 3, deviceId: extra.deviceId, status: 'accepted' },
    ]);
    expect((await batchSummary(batchId)).devices).toBe(2);
    expect(await deviceDetail(extra.deviceId)).toMatchObject({
      status: 'Imported',
      source: 'csv',
      metadata: { site: 'lyon' },
    });
    const text = `deviceId,enrolmentPublicKey\n${late.deviceId},${late.enrolmentPublicKeyBase64}\n`;
    const full = await command<ResultOf<typeof ImportIdentities>>(ImportIdentities, {
      batchId,
      importId: 'file-3',
      source: { format: 'csv', text },
    });
    expect(full.rows).toEqual([{ row: 2, deviceId: late.deviceId, status: 'rejected', reason: 'batch-full' }]);
    const malformed = { batchId, importId: 'file-4', source: { format: 'csv', text: 'id,key\n1,2\n' } };
    expect(await refusal(command(ImportIdentities, malformed))).toBe('MALFORMED');
  });

  it('verifies a whole batch: challenges go out, signed responses come back, all Verified', async () => {
    const devices = take(20);
    const batchId = await batchWith(devices);
    const started = performance.now();
    const result = await command<ResultOf<typeof VerifyIdentity>>(VerifyIdentity, {
      scope: { kind: 'batch', batchId },
    });
    expect(result.devices).toBe(20);
    await waitFor(async () => (await batchSummary(batchId)).byStatus.Verified === 20, {
      timeoutMs: 20_000,
      description: 'all devices verified',
    });
    console.info(`verify: 20 devices challenged and verified in ${Math.round(performance.now() - started)} ms`);
    const detail = await deviceDetail(devices[3]!.deviceId);
    expect(detail).toMatchObject({
      status: 'Verified',
      challengePending: false,
      firmwareMeasurement: testFirmwareMeasurement,
    });
  });

  it('drops a forged, a replayed and a wrong-key identity-response once verified: no answer, nothing changes', async () => {
    const [device, other] = take(2) as [TestDevice, TestDevice];
    await batchWith([device, other]);
    await verified([device]);
    const before = await storedEvents();
    const detail = await deviceDetail(device.deviceId);
    const challenge = device.lastInbox('identity-challenge')!.body as { challengeId: string; nonce: string };
    const rejections = () => device.inbox.filter((m) => m.kind === 'rejection').length;
    const dropsBefore = await dropped();
    const drops = async (reason: string) => ((await dropped())[reason] ?? 0) - (dropsBefore[reason] ?? 0);
    const impostor = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pkcs8 = impostor.privateKey.export({ format: 'der', type: 'pkcs8' });
    const impostorKey = await webcrypto.subtle.importKey(
      'pkcs8',
      pkcs8,
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    );
    await device.send(
      nats.nc,
      ns(),
      IdentityResponseMessage,
      { challengeId: challenge.challengeId, nonce: challenge.nonce },
      impostorKey,
    );
    await waitFor(async () => (await drops('unverified-bad-signature')) === 1, { description: 'forgery dropped' });

    const genuine = device.sent.find((m) => m.subject.endsWith('.identity-response'))!;
    nats.nc.publish(genuine.subject, genuine.data);
    await waitFor(async () => (await drops('unverified-replayed')) === 1, { description: 'replay dropped' });

    // Another device's response sent on this device's subject: the key is the wrong one.
    const body = { challengeId: challenge.challengeId, nonce: challenge.nonce };
    const foreign = await other.signer.sign(IdentityResponseMessage, body, {
      keyId: 'enrolment',
      privateKey: other.privateKey,
    });
    const data = new TextEncoder().encode(JSON.stringify({ ...foreign, deviceId: device.deviceId }));
    nats.nc.publish(IdentityResponseMessage.subject(device.deviceId, ns()), data);
    await waitFor(async () => (await drops('unverified-bad-signature')) === 2, {
      description: 'foreign signature dropped',
    });

    // Unauthenticated senders get no signed answer, and nothing was written.
    expect(rejections()).toBe(0);
    expect(await storedEvents()).toBe(before);
    expect(await deviceDetail(device.deviceId)).toEqual(detail);
  });

  it('records a forgery against a pending challenge without closing it: the genuine answer still verifies', async () => {
    const [device, impostor] = take(2) as [TestDevice, TestDevice];
    await batchWith([device]);
    fleet.held.add(device.deviceId);
    try {
      await command(VerifyIdentity, { scope: { kind: 'device', deviceId: device.deviceId } });
      const fresh = await waitFor(() => device.lastInbox('identity-challenge'), { description: 'a challenge' });
      const challenge = fresh.body as { challengeId: string; nonce: string };
      await waitFor(async () => (await deviceDetail(device.deviceId)).challengePending);
      const answer = { challengeId: challenge.challengeId, nonce: challenge.nonce };
      await device.send(nats.nc, ns(), IdentityResponseMessage, answer, impostor.privateKey);
      await waitFor(
        async () => (await deviceDetail(device.deviceId)).lastVerificationFailure?.reason === 'bad-signature',
        {
          description: 'failure recorded',
        },
      );
      expect(await deviceDetail(device.deviceId)).toMatchObject({ status: 'Imported', challengePending: true });

      await device.send(nats.nc, ns(), IdentityResponseMessage, answer);
      await waitFor(async () => !(await deviceDetail(device.deviceId)).challengePending, {
        description: 'challenge answered',
      });
      expect(await deviceDetail(device.deviceId)).toMatchObject({ status: 'Verified' });
    } finally {
      fleet.held.delete(device.deviceId);
    }
    const unknown = { kind: 'device', deviceId: 'd-unknownunknownunknownunknownunkn' };
    expect(await refusal(command(VerifyIdentity, { scope: unknown }))).toBe('NOT_FOUND');
  });

  it('records no-response when a challenge expires unanswered', async () => {
    const [device] = take(1) as [TestDevice];
    await batchWith([device]);
    fleet.held.add(device.deviceId);
    try {
      await command(VerifyIdentity, { scope: { kind: 'device', deviceId: device.deviceId } });
      await waitFor(async () => (await deviceDetail(device.deviceId)).challengePending, {
        description: 'pending challenge',
      });
      const job = registry.service.app.get(UnansweredChallengesJob);
      await job.sweep();
      expect(await deviceDetail(device.deviceId)).toMatchObject({ challengePending: true });
      clockOffsetMs = 10 * 60_000;
      try {
        // Other tests' challenges may expire too: this device's is among those recorded, once.
        expect(await job.sweep()).toBeGreaterThanOrEqual(1);
        expect(await job.sweep()).toBe(0);
      } finally {
        clockOffsetMs = 0;
      }
      await waitFor(async () => !(await deviceDetail(device.deviceId)).challengePending, {
        description: 'challenge closed',
      });
      expect(await deviceDetail(device.deviceId)).toMatchObject({
        status: 'Imported',
        lastVerificationFailure: { reason: 'no-response' },
      });
    } finally {
      fleet.held.delete(device.deviceId);
    }
  });

  it('remembers announcements without writing them; an open request holds who answers until an operator approves', async () => {
    const [outsider] = take(1) as [TestDevice];
    const before = await storedEvents();
    const announcement = {
      enrolmentPublicKey: outsider.enrolmentPublicKeyBase64,
      firmwareMeasurement: testFirmwareMeasurement,
    };
    await outsider.send(nats.nc, ns(), AnnounceMessage, announcement);
    const remembered = registry.service.app.get(AnnouncedDevices);
    await waitFor(() => remembered.recent(new Date()).includes(outsider.deviceId), { description: 'announcement' });
    expect(await storedEvents()).toBe(before);
    expect(await refusal(deviceDetail(outsider.deviceId))).toBe('NOT_FOUND');

    const batchId = await batchWith([], 5);
    const requestId = `ask-${batchId}`;
    const requested = await command<ResultOf<typeof RequestEnrolmentKeys>>(RequestEnrolmentKeys, {
      batchId,
      requestId,
      ttlSeconds: 60,
    });
    expect(Date.parse(requested.expiresAt)).toBeGreaterThan(Date.now());
    const report = () => query<EnrolmentKeyRequestReport>(registryQuerySubjects.enrolmentKeyRequest, { requestId });
    await waitFor(async () => (await report()).held.length === 1, { description: 'answer held for approval' });
    expect((await report()).held).toEqual([
      {
        deviceId: outsider.deviceId,
        enrolmentKeyDigest: createHash('sha256').update(outsider.enrolmentPublicKey).digest('hex'),
        firmwareMeasurement: testFirmwareMeasurement,
        reason: 'unattested',
        decision: 'pending',
      },
    ]);
    expect(await batchSummary(batchId)).toMatchObject({ devices: 0 });

    const decided = await command<ResultOf<typeof DecideHeldEnrolments>>(DecideHeldEnrolments, {
      batchId,
      requestId,
      deviceIds: [outsider.deviceId],
      decision: 'approve',
    });
    expect(decided.devices).toEqual([{ deviceId: outsider.deviceId, outcome: 'approved' }]);
    await waitFor(async () => (await batchSummary(batchId)).devices === 1, { description: 'approved device joins' });
    expect(await deviceDetail(outsider.deviceId)).toMatchObject({
      status: 'Imported',
      batchId,
      source: 'device-report',
    });
  });

  it('marks a device Certified when the CA issues its certificate (durable subscription to CA events)', async () => {
    const [device] = take(1) as [TestDevice];
    await batchWith([device]);
    await certify(device);
    expect((await deviceDetail(device.deviceId)).certificate).toMatchObject({
      serialNumber: serialOf(device),
      authorityId: 'issuing-acme',
    });
  });

  it('rebuilds the same state from the log after a restart and resumes the CA subscription', async () => {
    const devices = take(3);
    const batchId = await batchWith(devices);
    await verified(devices);
    await certify(devices[0]!);
    const summaryBefore = await batchSummary(batchId);
    const deviceBefore = await deviceDetail(devices[0]!.deviceId);
    expect(summaryBefore.byStatus).toMatchObject({ Verified: 2, Certified: 1 });
    const eventsBefore = await storedEvents();
    await registry.stop();
    registry = await start();
    expect(await batchSummary(batchId)).toEqual(summaryBefore);
    expect(await deviceDetail(devices[0]!.deviceId)).toEqual(deviceBefore);
    // Commands still answer from the log: a re-import writes nothing.
    const rows = devices.map((d) => d.identityRow);
    await command(ImportIdentities, { batchId, importId: 'setup', source: { format: 'json', rows } });
    await registry.caSubscriptionStarted();
    expect(await storedEvents()).toBe(eventsBefore);
  });
});

const serialOf = (device: TestDevice) => createHash('sha256').update(device.deviceId).digest('hex').slice(0, 32);

/** The CA's side: CertificateIssued for the device on the CA's stream; waits until the registry recorded it. */
async function certify(device: TestDevice): Promise<void> {
  const ca = new JetStreamEventStore(nats.nc, { namespace: ns(), logger });
  await ca.ensureStreams(['ca']);
  await registry.caSubscriptionStarted();
  const certificatePem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const requestId = `csr-${device.deviceId}`;
  const issued = CertificateIssued.create({
    id: randomUUID(),
    aggregateId: device.deviceId,
    occurredAt: new Date().toISOString(),
    causationId: requestId,
    correlationId: requestId,
    data: {
      deviceId: device.deviceId,
      requestId,
      authorityId: 'issuing-acme',
      serialNumber: serialOf(device),
      subject: `CN=${device.deviceId}`,
      issuer: 'CN=acme issuing CA',
      notBefore: new Date().toISOString(),
      notAfter: new Date(Date.now() + 365 * 86_400_000).toISOString(),
      fingerprintSha256: 'cd'.repeat(32),
      publicKeyDigest: 'ef'.repeat(32),
      keyId: 'enrolment',
      certificatePem,
      chainPem: [certificatePem],
    },
  });
  await ca.append({ context: 'ca', aggregate: 'device', id: device.deviceId }, [issued], {
    expectedVersion: 'any',
    messageId: requestId,
  });
  await waitFor(async () => (await deviceDetail(device.deviceId)).status === 'Certified', {
    description: 'device certified',
  });
  await ca.close();
}
