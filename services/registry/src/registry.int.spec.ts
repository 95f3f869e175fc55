import 'reflect-metadata';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import {
  AnnounceMessage,
  CertificateIssued,
  CreateBatch,
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
import type { BatchSummary } from './batch-summary/batch-summary.view.js';
import type { DeviceDetail } from './device-by-id/device-by-id.view.js';
import { registryQuerySubjects } from './read-model/registry-queries-ms.controller.js';
import { startRegistry, type RunningRegistry } from './start-registry.js';
import { TestDevice, TestFleet, testFirmwareMeasurement } from './test-support/test-fleet.js';
import { UnansweredChallengesSweeper } from './verify-identity/unanswered-challenges.sweeper.js';

// Real NATS (NATS_URL or loopback), one namespace for this file; the device side signs for real.
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
const storedEvents = async () => (await nats.jsm.streams.info(streamName('registry', ns()))).state.messages;
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof CommandFailed ? error.code : String(error)),
  );
// The registry's clock, movable so a test can let a challenge expire without waiting.
let clockOffsetMs = 0;
const clock = () => new Date(Date.now() + clockOffsetMs);
const start = () => startRegistry({ nats: nats.nc, namespace: ns(), platformKey, logger, clock, nestLogger: ['error'] });

const policy = {
  policyId: 'fridges',
  name: 'Fridges on the EU broker',
  targetIds: ['mosquitto-eu'],
  topicRights: [{ topic: 'fridges/{deviceId}/#', access: 'publish-subscribe' as const }],
  certificateLifetimeDays: 365,
};
const batchId = 'fridges-2026';
const deviceCount = 50;

describe('registry against real NATS: policy, batch, import, verify, announce, certificates, restart', () => {
  const devices: TestDevice[] = [];
  let outsider: TestDevice;
  let importRows: { deviceId: unknown; enrolmentPublicKey: unknown }[];
  let firstImport: ResultOf<typeof ImportIdentities>;
  const importCommandId = randomUUID();

  beforeAll(async () => {
    await nats.setup();
    platformKey = (await generatePlatformKey()).key;
    registry = await start();
    client = new CommandClient(nats.nc);
    for (let i = 0; i < deviceCount + 1; i++) devices.push(await TestDevice.manufacture(`registry-int-${i}`));
    outsider = devices.pop()!;
    fleet = new TestFleet(nats.nc, ns(), platformKey);
    fleet.add(...devices, outsider);
    await fleet.start();
  }, 120_000);

  afterAll(async () => {
    fleet?.stop();
    await registry?.stop();
    await nats.teardown();
  });

  it('is ready once its read model is rebuilt', async () => {
    expect((await fetch(`${registry.url}/ready`)).status).toBe(200);
  });

  it('defines a policy and creates batches; a batch needs a defined policy; a retry is idempotent', async () => {
    const commandId = randomUUID();
    await expect(command(DefineServerPolicy, policy, commandId)).resolves.toEqual({ policyId: 'fridges' });
    const before = await storedEvents();
    await expect(command(DefineServerPolicy, policy, commandId)).resolves.toEqual({ policyId: 'fridges' });
    await expect(command(DefineServerPolicy, policy)).resolves.toEqual({ policyId: 'fridges' });
    expect(await storedEvents()).toBe(before);
    expect(await refusal(command(DefineServerPolicy, { ...policy, certificateLifetimeDays: 1 }))).toBe('CONFLICT');

    expect(await refusal(command(CreateBatch, { batchId: 'orphan', name: 'no policy', policyId: 'missing', ownerId: 'acme', expectedSize: 10 }))).toBe('unknown-policy');
    await command(CreateBatch, { batchId, name: '50 fridges', policyId: 'fridges', ownerId: 'acme', expectedSize: deviceCount });
    await command(CreateBatch, { batchId: 'freezers', name: 'freezers', policyId: 'fridges', ownerId: 'acme', expectedSize: 10 });
    expect(await refusal(command(ImportIdentities, { batchId: 'nope', importId: 'i-0', source: { format: 'json', rows: [devices[0]!.identityRow] } }))).toBe('NOT_FOUND');
  });

  it('imports identities with a per-row report: bad id, wrong id, not P-256, malformed, duplicate, other batch, invalid row', async () => {
    const [first, second, inOtherBatch] = devices as [TestDevice, TestDevice, TestDevice];
    await command(ImportIdentities, { batchId: 'freezers', importId: 'freezers-1', source: { format: 'json', rows: [inOtherBatch.identityRow] } });

    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const pem = `-----BEGIN PUBLIC KEY-----\n${second.enrolmentPublicKeyBase64.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
    importRows = [
      ...devices.filter((d) => d !== second && d !== inOtherBatch).map((d) => d.identityRow), // rows 1..48
      { deviceId: second.deviceId, enrolmentPublicKey: pem }, // 49: PEM is fine
      { deviceId: first.deviceId, enrolmentPublicKey: second.enrolmentPublicKeyBase64 }, // 50: id of another key
      { deviceId: 'd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', enrolmentPublicKey: p384 }, // 51
      { deviceId: 'd-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', enrolmentPublicKey: 'bm90IGEga2V5' }, // 52: base64 of "not a key"
      first.identityRow, // 53: duplicate of row 1
      inOtherBatch.identityRow, // 54
      { deviceId: 'not a device id', enrolmentPublicKey: first.enrolmentPublicKeyBase64 }, // 55
      { deviceId: 5, enrolmentPublicKey: first.enrolmentPublicKeyBase64 }, // 56
    ];
    firstImport = await command(ImportIdentities, { batchId, importId: 'file-1', source: { format: 'json', rows: importRows } }, importCommandId);
    expect(firstImport).toMatchObject({ batchId, importId: 'file-1', accepted: 49, rejected: 7 });
    expect(firstImport.rows.slice(48)).toEqual([
      { row: 49, deviceId: second.deviceId, status: 'accepted' },
      { row: 50, deviceId: first.deviceId, status: 'rejected', reason: 'id-mismatch' },
      { row: 51, deviceId: 'd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', status: 'rejected', reason: 'not-p256' },
      { row: 52, deviceId: 'd-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', status: 'rejected', reason: 'malformed-key' },
      { row: 53, deviceId: first.deviceId, status: 'rejected', reason: 'duplicate-in-import' },
      { row: 54, deviceId: inOtherBatch.deviceId, status: 'rejected', reason: 'in-other-batch' },
      { row: 55, status: 'rejected', reason: 'bad-device-id' },
      { row: 56, status: 'rejected', reason: 'invalid-row' },
    ]);
    expect(firstImport.rows.slice(0, 48).every((r) => r.status === 'accepted')).toBe(true);
    const summary = await batchSummary(batchId);
    expect(summary).toMatchObject({ devices: 49, imports: 1, byStatus: { Imported: 49 } });
    expect(await deviceDetail(second.deviceId)).toMatchObject({ status: 'Imported', batchId, source: 'json', enrolmentPublicKey: second.enrolmentPublicKeyBase64 });
  });

  it('writes nothing for a retried import (same commandId) or a re-import of the same rows', async () => {
    const before = await storedEvents();
    const retried = await command(ImportIdentities, { batchId, importId: 'file-1', source: { format: 'json', rows: importRows } }, importCommandId);
    expect(retried).toEqual(firstImport);
    const again = await command(ImportIdentities, { batchId, importId: 'file-1', source: { format: 'json', rows: importRows } });
    expect(again).toEqual(firstImport);
    expect(await storedEvents()).toBe(before);
  });

  it('refuses rows beyond the batch capacity and reads CSV with metadata columns', async () => {
    const extra = await TestDevice.manufacture('registry-int-extra');
    const csv = `deviceId,enrolmentPublicKey,site\n${devices[0]!.deviceId},${devices[0]!.enrolmentPublicKeyBase64},lyon\n${extra.deviceId},"${extra.enrolmentPublicKeyBase64}",lyon\n`;
    const report = await command<ResultOf<typeof ImportIdentities>>(ImportIdentities, { batchId, importId: 'file-2', source: { format: 'csv', text: csv } });
    expect(report.rows).toEqual([
      { row: 2, deviceId: devices[0]!.deviceId, status: 'accepted' },
      { row: 3, deviceId: extra.deviceId, status: 'accepted' },
    ]);
    expect((await batchSummary(batchId)).devices).toBe(50);
    expect(await deviceDetail(extra.deviceId)).toMatchObject({ status: 'Imported', source: 'csv', metadata: { site: 'lyon' } });
    const late = await TestDevice.manufacture('registry-int-late');
    const full = await command<ResultOf<typeof ImportIdentities>>(ImportIdentities, { batchId, importId: 'file-3', source: { format: 'csv', text: `deviceId,enrolmentPublicKey\n${late.deviceId},${late.enrolmentPublicKeyBase64}\n` } });
    expect(full.rows).toEqual([{ row: 2, deviceId: late.deviceId, status: 'rejected', reason: 'batch-full' }]);
    expect(await refusal(command(ImportIdentities, { batchId, importId: 'file-4', source: { format: 'csv', text: 'id,key\n1,2\n' } }))).toBe('MALFORMED');
    fleet.add(extra);
    devices.push(extra);
  });

  it('verifies a whole batch: challenges go out, signed responses come back, all Verified', async () => {
    const started = performance.now();
    const result = await command<ResultOf<typeof VerifyIdentity>>(VerifyIdentity, { scope: { kind: 'batch', batchId } });
    expect(result.devices).toBe(50);
    await waitFor(async () => (await batchSummary(batchId)).byStatus.Verified === 50, { timeoutMs: 20_000, description: 'all devices verified' });
    console.info(`verify: 50 devices challenged and verified in ${Math.round(performance.now() - started)} ms`);
    const member = devices[3]!;
    expect(await deviceDetail(member.deviceId)).toMatchObject({ status: 'Verified', challengePending: false, firmwareMeasurement: testFirmwareMeasurement });
  });

  it('ignores a forged, a replayed and a wrong-key identity-response once verified: a rejection goes back, nothing else changes', async () => {
    const device = devices[3]!;
    const before = await storedEvents();
    const detail = await deviceDetail(device.deviceId);
    const challenge = device.lastInbox('identity-challenge')!.body as { challengeId: string; nonce: string };
    const impostor = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { webcrypto } = await import('node:crypto');
    const impostorKey = await webcrypto.subtle.importKey('pkcs8', impostor.privateKey.export({ format: 'der', type: 'pkcs8' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    await device.send(nats.nc, ns(), IdentityResponseMessage, { challengeId: challenge.challengeId, nonce: challenge.nonce }, impostorKey);
    await waitFor(() => device.lastInbox('rejection')?.body, { description: 'rejection of the forgery' });
    expect(device.lastInbox('rejection')!.body).toMatchObject({ code: 'bad-signature', inReplyTo: { kind: 'identity-response' } });

    const genuine = device.sent.find((m) => m.subject.endsWith('.identity-response'))!;
    nats.nc.publish(genuine.subject, genuine.data);
    await waitFor(() => device.inbox.filter((m) => m.kind === 'rejection').length === 2, { description: 'rejection of the replay' });
    expect(device.lastInbox('rejection')!.body).toMatchObject({ code: 'replayed' });

    // Another device's response sent on this device's subject: the key is the wrong one.
    const other = devices[4]!;
    const foreign = await other.signer.sign(IdentityResponseMessage, { challengeId: challenge.challengeId, nonce: challenge.nonce }, { keyId: 'enrolment', privateKey: other.privateKey });
    nats.nc.publish(IdentityResponseMessage.subject(device.deviceId, ns()), new TextEncoder().encode(JSON.stringify({ ...foreign, deviceId: device.deviceId })));
    await waitFor(() => device.inbox.filter((m) => m.kind === 'rejection').length === 3, { description: 'rejection of the foreign signature' });
    expect(device.lastInbox('rejection')!.body).toMatchObject({ code: 'bad-signature' });

    expect(await storedEvents()).toBe(before);
    expect(await deviceDetail(device.deviceId)).toEqual(detail);
  });

  it('records a forgery against a pending challenge without closing it: the genuine answer still verifies', async () => {
    const device = devices[5]!;
    fleet.held.add(device.deviceId);
    const earlier = device.lastInbox('identity-challenge');
    await command(VerifyIdentity, { scope: { kind: 'device', deviceId: device.deviceId } });
    const fresh = await waitFor(() => (device.lastInbox('identity-challenge') !== earlier ? device.lastInbox('identity-challenge') : undefined), { description: 'a new challenge' });
    const challenge = fresh.body as { challengeId: string; nonce: string };
    await waitFor(async () => (await deviceDetail(device.deviceId)).challengePending);
    const impostor = await TestDevice.manufacture('registry-int-impostor');
    await device.send(nats.nc, ns(), IdentityResponseMessage, { challengeId: challenge.challengeId, nonce: challenge.nonce }, impostor.privateKey);
    await waitFor(async () => (await deviceDetail(device.deviceId)).lastVerificationFailure?.reason === 'bad-signature', { description: 'failure recorded' });
    expect(await deviceDetail(device.deviceId)).toMatchObject({ status: 'Verified', challengePending: true });

    const verifiedBefore = (await deviceDetail(device.deviceId)).verifiedAt;
    await device.send(nats.nc, ns(), IdentityResponseMessage, { challengeId: challenge.challengeId, nonce: challenge.nonce });
    await waitFor(async () => !(await deviceDetail(device.deviceId)).challengePending, { description: 'challenge answered' });
    expect((await deviceDetail(device.deviceId)).verifiedAt).not.toBe(verifiedBefore);
    fleet.held.delete(device.deviceId);
    expect(await refusal(command(VerifyIdentity, { scope: { kind: 'device', deviceId: 'd-unknownunknownunknownunknownunkn' } }))).toBe('NOT_FOUND');
  });

  it('records no-response when a challenge expires unanswered', async () => {
    const device = devices[8]!;
    fleet.held.add(device.deviceId);
    await command(VerifyIdentity, { scope: { kind: 'device', deviceId: device.deviceId } });
    await waitFor(async () => (await deviceDetail(device.deviceId)).challengePending, { description: 'pending challenge' });
    const sweeper = registry.service.app.get(UnansweredChallengesSweeper);
    expect(await sweeper.sweep()).toBe(0);
    clockOffsetMs = 10 * 60_000;
    try {
      expect(await sweeper.sweep()).toBe(1);
      expect(await sweeper.sweep()).toBe(0);
    } finally {
      clockOffsetMs = 0;
    }
    await waitFor(async () => !(await deviceDetail(device.deviceId)).challengePending, { description: 'challenge closed' });
    expect(await deviceDetail(device.deviceId)).toMatchObject({ status: 'Verified', lastVerificationFailure: { reason: 'no-response' } });
    fleet.held.delete(device.deviceId);
  });

  it('records announcements and, on request, adds announced devices that report their key to a batch', async () => {
    await outsider.send(nats.nc, ns(), AnnounceMessage, { enrolmentPublicKey: outsider.enrolmentPublicKeyBase64, firmwareMeasurement: testFirmwareMeasurement });
    await waitFor(async () => (await refusal(deviceDetail(outsider.deviceId))) === 'accepted', { description: 'announced device' });
    expect(await deviceDetail(outsider.deviceId)).toMatchObject({ status: 'Announced' });

    // An announcement whose id is not the digest of its key is refused.
    const liar = devices[6]!;
    await liar.send(nats.nc, ns(), AnnounceMessage, { enrolmentPublicKey: outsider.enrolmentPublicKeyBase64, firmwareMeasurement: testFirmwareMeasurement });
    await waitFor(() => liar.lastInbox('rejection')?.body, { description: 'rejection of the liar' });
    expect(liar.lastInbox('rejection')!.body).toMatchObject({ code: 'wrong-key', inReplyTo: { kind: 'announce' } });

    await command(CreateBatch, { batchId: 'no-file', name: 'devices without an identity file', policyId: 'fridges', ownerId: 'acme', expectedSize: 5 });
    const requested = await command<ResultOf<typeof RequestEnrolmentKeys>>(RequestEnrolmentKeys, { batchId: 'no-file', requestId: 'ask-1', ttlSeconds: 60 });
    expect(Date.parse(requested.expiresAt)).toBeGreaterThan(Date.now());
    await waitFor(async () => (await deviceDetail(outsider.deviceId)).status === 'Imported', { description: 'reported key joins the batch' });
    expect(await deviceDetail(outsider.deviceId)).toMatchObject({ batchId: 'no-file', source: 'device-report' });
    expect(await batchSummary('no-file')).toMatchObject({ devices: 1, byStatus: { Imported: 1 } });
  });

  it('marks a device Certified when the CA issues its certificate (durable subscription to CA events)', async () => {
    const ca = new JetStreamEventStore(nats.nc, { namespace: ns(), logger });
    await ca.ensureStreams(['ca']);
    await registry.caSubscriptionStarted();
    const device = devices[7]!;
    const certificatePem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const issued = CertificateIssued.create({
      id: randomUUID(),
      aggregateId: device.deviceId,
      occurredAt: new Date().toISOString(),
      causationId: 'csr-1',
      correlationId: 'csr-1',
      data: {
        deviceId: device.deviceId,
        requestId: 'csr-1',
        authorityId: 'issuing-acme',
        serialNumber: '0123456789abcdef0123456789abcdef',
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
    await ca.append({ context: 'ca', aggregate: 'device', id: device.deviceId }, [issued], { expectedVersion: 'any', messageId: 'csr-1' });
    await waitFor(async () => (await deviceDetail(device.deviceId)).status === 'Certified', { description: 'device certified' });
    expect((await deviceDetail(device.deviceId)).certificate).toMatchObject({ serialNumber: '0123456789abcdef0123456789abcdef', authorityId: 'issuing-acme' });
    ca.close();
  });

  it('rebuilds the same state from the log after a restart and resumes the CA subscription', async () => {
    const summaryBefore = await batchSummary(batchId);
    const deviceBefore = await deviceDetail(devices[7]!.deviceId);
    const eventsBefore = await storedEvents();
    await registry.stop();
    registry = await start();
    expect(await batchSummary(batchId)).toEqual(summaryBefore);
    expect(await deviceDetail(devices[7]!.deviceId)).toEqual(deviceBefore);
    expect(summaryBefore.byStatus).toMatchObject({ Verified: 49, Certified: 1 });
    // Commands still answer from the log: a retried import writes nothing.
    await command(ImportIdentities, { batchId, importId: 'file-1', source: { format: 'json', rows: importRows } }, importCommandId);
    await registry.caSubscriptionStarted();
    expect(await storedEvents()).toBe(eventsBefore);
  });
});
