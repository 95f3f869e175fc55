/**
 * Issue 6 on the real NATS (NATS_URL, isolated by a namespace): registry + CA + revocation services
 * and simulated PUF devices from device-fleet. Devices are provisioned for real, then revoked one by
 * one and as a batch; openssl — not our parser — checks the CRL the CA serves at the distribution
 * point named in the certificates. The saga is interrupted (CA down, then the revocation service
 * stopped mid-saga) and must resume without losing or repeating a step. No broker here: onboarding's
 * part (disable on every target, CRL reload) is covered by the saga specs with onboarding's events.
 * Each test provisions a batch of its own, so they pass in any order (`--randomize`).
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inProcessCeremony, startCa, type RunningCa } from '@tunnelkey/ca';
import {
  CertifyDevices,
  CreateBatch,
  DefineServerPolicy,
  ImportIdentities,
  RevokeBatch,
  RevokeDevice,
  VerifyIdentity,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { generatePlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { CommandClient, CommandFailed } from '@tunnelkey/messaging';
import { Kek } from '@tunnelkey/pki';
import { startRegistry, type RunningRegistry } from '@tunnelkey/registry';
import {
  revocationQuerySubjects,
  startRevocation,
  type DeviceRevocationView,
  type RevocationView,
  type RunningRevocation,
} from '@tunnelkey/revocation';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';

const run = promisify(execFile);
const nats = natsFixture();
const logger = pino({ level: 'warn' });
const kekBytes = randomBytes(32);

/** openssl's output whatever its exit code (verify exits 2 on a revoked leaf). */
const openssl = async (args: string[]) =>
  run('openssl', args).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );

describe('revocation: registry + CA + revocation saga on real NATS, CRL checked by openssl', () => {
  let registry: RunningRegistry;
  let ca: RunningCa | undefined;
  let revocation: RunningRevocation | undefined;
  const fleets: Fleet[] = [];
  let commands: CommandClient;
  let store: JetStreamEventStore;
  let platformKey: PlatformKey;
  let workDir: string;
  let namespace: string;
  const command = () => ({ commandId: randomUUID() });
  const send = <R>(subject: string, payload: object) =>
    commands.request<R>(`${namespace}.${subject}`, payload, { timeoutMs: 30_000 });
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error as CommandFailed,
    );

  const startCaService = async () =>
    startCa({
      nats: nats.nc,
      namespace,
      platformKey,
      kek: await Kek.fromBytes(new Uint8Array(kekBytes)),
      logger,
      config: { httpPort: 0, instanceId: 'ca-1' },
    });
  const startRevocationService = () =>
    startRevocation({ nats: nats.nc, namespace, logger, config: { httpPort: 0, retryMs: 100 } });
  const events = async (context: 'ca' | 'revocation', aggregate: string, id: string) =>
    (await store.read({ context, aggregate, id })).events.map((r) => r.event);
  const countIn = async (context: 'ca' | 'revocation', aggregate?: string) => {
    let n = 0;
    await store.replay(context, () => void n++, aggregate ? { aggregate } : {});
    return n;
  };
  const leaf = (deviceId: string) =>
    fleets.flatMap((f) => [...f.devices()]).find((d) => d.deviceId === deviceId)!.flash.certificates['tls-0']!;
  /** The CRL number the issuing CA published last (from its log). */
  const lastCrlNumber = async () => {
    const crls = await events('ca', 'crl', 'issuing-acme');
    return Math.max(0, ...crls.map((e) => (e.data as { crlNumber: number }).crlNumber));
  };
  /** The reasons openssl prints for one device's serial in the CRL text (one entry per serial expected). */
  const entriesOf = (crlText: string, deviceId: string) => {
    const serial = leaf(deviceId).serialNumber.toUpperCase().replace(/^0+/, '');
    const entry = /Serial Number: 0*([0-9A-F]+)(?:(?!Serial Number)[\s\S])*?CRL Reason Code:\s*\n\s*([A-Za-z ]+)\n/g;
    return [...crlText.matchAll(entry)].filter(([, s]) => s === serial).map(([, , reason]) => reason!.trim());
  };
  /** A batch of devices of its own: created, imported, verified and certified for real; sorted device ids. */
  const provisionBatch = async (label: string, size: number): Promise<{ batchId: string; devices: string[] }> => {
    const batchId = `${label}-${randomUUID().slice(0, 8)}`;
    const { publicKeySpki } = platformKey;
    const fleet = await createFleet({
      nats: nats.nc,
      namespace,
      size,
      profile: 'sram',
      seedBase: `e2e-${batchId}`,
      platformPublicKey: publicKeySpki,
    });
    fleets.push(fleet);
    const batch = { batchId, name: label, policyId: 'fridge-policy', ownerId: 'acme', expectedSize: size };
    await send(CreateBatch.subject(), { ...command(), ...batch });
    const source = { format: 'json', rows: JSON.parse(fleet.identityFile('json')) as unknown[] };
    await send(ImportIdentities.subject(), { ...command(), batchId, importId: 'import-1', source });
    await send(VerifyIdentity.subject(), { ...command(), scope: { kind: 'batch', batchId } });
    const byStatus = () => registry.readModel.batchSummary(batchId)?.byStatus;
    await waitFor(() => byStatus()?.Verified === size, { description: 'identities verified', timeoutMs: 60_000 });
    await send(CertifyDevices.subject(), { ...command(), scope: { kind: 'batch', batchId }, keyId: 'tls-0' });
    await waitFor(() => byStatus()?.Certified === size, { description: 'devices certified', timeoutMs: 60_000 });
    const stored = () => [...fleet.devices()].every((d) => d.flash.certificates['tls-0']);
    await waitFor(stored, { description: 'certificates stored', timeoutMs: 30_000 });
    const devices = [...fleet.devices()].map((d) => d.deviceId).sort();
    const chain = leaf(devices[0]!).chainPem;
    await writeFile(join(workDir, 'issuing.pem'), chain[0]!);
    await writeFile(join(workDir, 'root.pem'), chain[1]!);
    return { batchId, devices };
  };
  type Started = { revocationId: string; devices: number; alreadyRevoked: number };
  const revokeDevice = (deviceId: string, reason: string, extra: object = {}) =>
    send<Started>(RevokeDevice.subject(), { ...command(), deviceId, reason, ...extra });
  const crlUrlOf = async (deviceId: string) => {
    await writeFile(join(workDir, 'probe.pem'), leaf(deviceId).certificatePem);
    const { out } = await openssl(['x509', '-noout', '-text', '-in', join(workDir, 'probe.pem')]);
    return /CRL Distribution Points:[\s\S]*?URI:(\S+)/.exec(out)![1]!;
  };
  const fetchCrl = async (deviceId: string) => {
    // The CA's HTTP port is chosen at start; the path is the one the certificate names.
    const path = new URL(await crlUrlOf(deviceId)).pathname;
    const response = await fetch(`${ca!.service.url}${path}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/pkix-crl');
    const der = Buffer.from(await response.arrayBuffer());
    await writeFile(join(workDir, 'crl.der'), der);
    await run('openssl', ['crl', '-inform', 'DER', '-in', join(workDir, 'crl.der'), '-out', join(workDir, 'crl.pem')]);
    return der;
  };
  const verifyWithCrl = async (deviceId: string) => {
    const file = join(workDir, `${deviceId}.pem`);
    await writeFile(file, leaf(deviceId).certificatePem);
    return openssl([
      'verify',
      '-crl_check',
      '-CAfile',
      join(workDir, 'root.pem'),
      '-untrusted',
      join(workDir, 'issuing.pem'),
      '-CRLfile',
      join(workDir, 'crl.pem'),
      file,
    ]);
  };
  const revocationView = (revocationId: string) =>
    send<RevocationView>(revocationQuerySubjects.revocation, { revocationId });
  const completed = (revocationId: string) =>
    waitFor(
      async () =>
        (await revocationView(revocationId)).status === 'Completed' ? revocationView(revocationId) : undefined,
      { description: `revocation ${revocationId} completed`, timeoutMs: 30_000 },
    );

  beforeAll(async () => {
    await nats.setup();
    namespace = nats.namespace;
    workDir = await mkdtemp(join(tmpdir(), 'tk-e2e-revocation-'));
    platformKey = (await generatePlatformKey()).key;
    store = new JetStreamEventStore(nats.nc, { namespace, logger });
    registry = await startRegistry({ nats: nats.nc, namespace, platformKey, logger, nestLogger: ['error'] });
    // The admin ceremony (root key in memory) signs acme's issuing CA: the CA creates none itself.
    await inProcessCeremony({
      nats: nats.nc,
      namespace,
      serviceKek: await Kek.fromBytes(new Uint8Array(kekBytes)),
      owners: ['acme'],
      logger,
    });
    ca = await startCaService();
    revocation = await startRevocationService();
    await registry.caSubscriptionStarted();
    commands = new CommandClient(nats.nc);
    await send(DefineServerPolicy.subject(), {
      ...command(),
      policyId: 'fridge-policy',
      name: 'Fridges',
      targetIds: ['plant-broker'],
      topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish-subscribe' }],
      certificateLifetimeDays: 365,
    });
  }, 180_000);

  afterAll(async () => {
    await revocation?.stop();
    for (const fleet of fleets) await fleet.stop();
    await ca?.stop();
    await registry?.stop();
    store?.close();
    await nats.teardown();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('revokes one device: certificates revoked, a CRL that openssl verifies and that rejects only that leaf, served at the distribution point; registry Revoked; the query says why and when', async () => {
    const [victim, bystander] = (await provisionBatch('fridges-one', 2)).devices as [string, string];
    const crlBefore = await lastCrlNumber();
    const started = performance.now();
    const reply = await revokeDevice(victim, 'keyCompromise', { actor: { kind: 'operator', id: 'alice' } });
    expect(reply).toMatchObject({ devices: 1, alreadyRevoked: 0 });
    const view = await completed(reply.revocationId);
    process.stdout.write(
      `revocation e2e: one device, RevokeDevice -> Completed in ${Math.round(performance.now() - started)} ms (saga durationMs ${view.durationMs})\n`,
    );
    expect(view.steps.map((s) => s.step)).toEqual([
      'requested',
      'certificates-revoked',
      'crl-published',
      'targets-deprovisioned',
      'registry-updated',
      'completed',
    ]);
    expect(view.crls).toHaveLength(1);
    expect(view.requestedBy).toEqual({ kind: 'operator', id: 'alice' });

    const device = await send<DeviceRevocationView>(revocationQuerySubjects.device, { deviceId: victim });
    expect(device).toMatchObject({
      status: 'revoked',
      reason: 'keyCompromise',
      revocationId: reply.revocationId,
      requestedBy: { kind: 'operator', id: 'alice' },
    });
    expect(Date.parse(device.revokedAt!)).toBeGreaterThan(0);
    expect(
      (await fetch(`${revocation!.url}/devices/${victim}/revocation`).then((r) => r.json())) as DeviceRevocationView,
    ).toMatchObject({ status: 'revoked', reason: 'keyCompromise' });
    await waitFor(() => registry.readModel.device(victim)?.status === 'Revoked', { description: 'registry Revoked' });
    expect(registry.readModel.device(victim)?.revocation).toMatchObject({
      revocationId: reply.revocationId,
      reason: 'keyCompromise',
    });

    const revokedEvents = (await events('ca', 'device', victim)).filter((e) => e.type === 'CertificateRevoked');
    expect(revokedEvents.map((e) => (e.data as { serialNumber: string }).serialNumber)).toEqual([
      leaf(victim).serialNumber,
    ]);

    await fetchCrl(victim);
    const crlCheck = await openssl([
      'crl',
      '-verify',
      '-noout',
      '-CAfile',
      join(workDir, 'issuing.pem'),
      '-in',
      join(workDir, 'crl.pem'),
    ]);
    expect(crlCheck.out).toMatch(/verify OK/);
    const text = (await openssl(['crl', '-noout', '-text', '-in', join(workDir, 'crl.pem')])).out;
    // This revocation made the next CRL (the first, empty one came with the CA's first certificates).
    expect(text).toMatch(new RegExp(`X509v3 CRL Number:\\s*\\n\\s*${crlBefore + 1}\\b`));
    expect(entriesOf(text, victim)).toEqual(['Key Compromise']);
    expect(text).toMatch(/Next Update:/);
    const rejected = await verifyWithCrl(victim);
    expect(rejected.code).not.toBe(0);
    expect(rejected.out).toMatch(/certificate revoked/);
    const accepted = await verifyWithCrl(bystander!);
    expect(accepted.out).toMatch(/: OK/);

    // A revoked device cannot be certified again.
    const refusal = await failure(
      send(CertifyDevices.subject(), { ...command(), scope: { kind: 'device', deviceId: victim }, keyId: 'tls-0' }),
    );
    expect(refusal).toBeInstanceOf(CommandFailed);
    expect(refusal?.code).toBe('device-revoked');
  }, 60_000);

  it('bad input changes nothing: a device already revoked (no second CRL entry, no new CRL), an unknown device, a malformed reason', async () => {
    const [victim] = (await provisionBatch('fridges-bad-input', 1)).devices as [string];
    const first = await revokeDevice(victim, 'keyCompromise');
    await completed(first.revocationId);
    await revocation!.saga.idle();
    const before = { revocation: await countIn('revocation'), ca: await countIn('ca') };
    const again = await revokeDevice(victim, 'superseded');
    expect(again).toEqual({ revocationId: first.revocationId, devices: 0, alreadyRevoked: 1 });
    const unknown = await failure(
      send(RevokeDevice.subject(), { ...command(), deviceId: 'd-never-heard-of', reason: 'keyCompromise' }),
    );
    expect(unknown?.code).toBe('NOT_FOUND');
    expect(unknown?.message).toMatch(/device d-never-heard-of not found/);
    const malformed = await failure(send(RevokeDevice.subject(), { ...command(), deviceId: victim, reason: 'stolen' }));
    expect(malformed?.code).toBe('CONTRACT_VIOLATION');
    const unknownBatch = await failure(
      send(RevokeBatch.subject(), { ...command(), batchId: 'no-such-batch', reason: 'keyCompromise' }),
    );
    expect(unknownBatch?.code).toBe('NOT_FOUND');
    await revocation!.saga.idle();
    expect({ revocation: await countIn('revocation'), ca: await countIn('ca') }).toEqual(before);
  }, 120_000);

  it('revokes the rest of the batch with one command and one CRL, resuming after the CA was down and the revocation service stopped mid-saga', async () => {
    const { batchId, devices } = await provisionBatch('fridges-batch', 6);
    const [victim, ...rest] = devices;
    // One device of the batch is revoked first, with another reason.
    await completed((await revokeDevice(victim!, 'keyCompromise')).revocationId);
    const crlEventsBefore = (await events('ca', 'crl', 'issuing-acme')).length;
    await ca!.stop(); // the CA is down when the revocation is requested
    ca = undefined;
    const reply = await send<Started>(RevokeBatch.subject(), { ...command(), batchId, reason: 'cessationOfOperation' });
    expect(reply).toMatchObject({ devices: rest.length, alreadyRevoked: 1 });
    await waitFor(async () => (await revocationView(reply.revocationId)).status === 'Requested', {
      description: 'saga requested',
    });
    await revocation!.stop(); // mid-saga: nothing can move it now
    revocation = undefined;

    const started = performance.now();
    ca = await startCaService(); // applies the pending revocation while the saga is down
    await waitFor(async () => (await events('ca', 'revocation', reply.revocationId)).length === 1, {
      description: 'CA applied the revocation',
      timeoutMs: 30_000,
    });
    revocation = await startRevocationService();
    const view = await completed(reply.revocationId);
    process.stdout.write(
      `revocation e2e: batch of ${rest.length}, CA restart -> Completed in ${Math.round(performance.now() - started)} ms\n`,
    );

    // Every step exactly once, in order; the CA applied it once with one new CRL.
    const sagaEvents = (await events('revocation', 'revocation', reply.revocationId)) as EventEnvelope[];
    expect(
      sagaEvents.map((e) => (e.type === 'RevocationStepCompleted' ? (e.data as { step: string }).step : e.type)),
    ).toEqual([
      'RevocationRequested',
      'certificates-revoked',
      'crl-published',
      'targets-deprovisioned',
      'registry-updated',
      'RevocationCompleted',
    ]);
    expect(view.certificatesRevoked).toBe(rest.length);
    const crlEvents = await events('ca', 'crl', 'issuing-acme');
    expect(crlEvents).toHaveLength(crlEventsBefore + 1);
    const crlNumbers = crlEvents.map((e) => (e.data as { crlNumber: number }).crlNumber);
    expect(crlNumbers).toEqual([...crlNumbers].sort((a, b) => a - b));

    await fetchCrl(victim!);
    expect(
      (
        await openssl([
          'crl',
          '-verify',
          '-noout',
          '-CAfile',
          join(workDir, 'issuing.pem'),
          '-in',
          join(workDir, 'crl.pem'),
        ])
      ).out,
    ).toMatch(/verify OK/);
    const text = (await openssl(['crl', '-noout', '-text', '-in', join(workDir, 'crl.pem')])).out;
    // One entry per certificate: the device revoked before is listed once, with its first reason.
    expect(entriesOf(text, victim!)).toEqual(['Key Compromise']);
    for (const deviceId of rest) expect(entriesOf(text, deviceId)).toEqual(['Cessation Of Operation']);
    for (const deviceId of devices) expect((await verifyWithCrl(deviceId)).out).toMatch(/certificate revoked/);
    const batchRevoked = () => registry.readModel.batchSummary(batchId)?.byStatus.Revoked === devices.length;
    await waitFor(batchRevoked, { description: 'registry: the whole batch Revoked' });
  }, 120_000);
});
