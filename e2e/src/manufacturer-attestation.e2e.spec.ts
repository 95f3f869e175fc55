/**
 * Issue 14, finding 7, end to end on the real NATS (NATS_URL, isolated by a namespace): a batch
 * without an identity file. The operator registers the factory's manufacturer key with the batch
 * and opens an enrolment-key request (no device ids). The simulated fleet the factory attested
 * (each device's enrolment key signed with that key, sent with its enrolment-key-report) joins the
 * batch on its own; a device without an attestation is held for the operator's decision, with no
 * place in the batch.
 */
import 'reflect-metadata';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { CreateBatch, DefineServerPolicy, RegisterManufacturerKey, RequestEnrolmentKeys } from '@tunnelkey/contracts';
import { generatePlatformKey } from '@tunnelkey/device-protocol';
import { createFleet, manufacturerKey, manufacturerPublicKeyBase64, type Fleet } from '@tunnelkey/device-fleet';
import { CommandClient } from '@tunnelkey/messaging';
import {
  registryQuerySubjects,
  startRegistry,
  type BatchSummary,
  type DeviceDetail,
  type RunningRegistry,
} from '@tunnelkey/registry';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';

const nats = natsFixture({ prefix: 'attest' });
const logger = pino({ level: 'warn' });
const attestedSize = 4;

interface HeldReport {
  held: { deviceId: string; reason: string; decision: string }[];
}

describe('an open enrolment-key request enrols the devices the manufacturer attested and holds the others', () => {
  let registry: RunningRegistry;
  let attested: Fleet;
  let unattested: Fleet;
  let commands: CommandClient;
  const suffix = randomUUID().slice(0, 8);
  const batchId = `attested-${suffix}`;
  const requestId = `open-${suffix}`;
  // The factory's key: the fleet signs with its PKCS#8 form, the batch gets its public half.
  const factoryKey = manufacturerKey(
    'factory-1',
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'pkcs8' }),
  );

  const send = <R>(subject: string, payload: object) =>
    commands.request<R>(`${nats.namespace}.${subject}`, { commandId: randomUUID(), ...payload }, { timeoutMs: 30_000 });
  const query = <R>(subject: string, payload: object) => commands.request<R>(`${nats.namespace}.${subject}`, payload);

  beforeAll(async () => {
    await nats.setup();
    const { key: platformKey } = await generatePlatformKey();
    const namespace = nats.namespace;
    registry = await startRegistry({ nats: nats.nc, namespace, platformKey, logger, nestLogger: ['error'] });
    const common = { nats: nats.nc, namespace, platformPublicKey: platformKey.publicKeySpki };
    attested = await createFleet({
      ...common,
      size: attestedSize,
      seedBase: `attested-${suffix}`,
      manufacturerKey: factoryKey,
    });
    unattested = await createFleet({ ...common, size: 1, seedBase: `unattested-${suffix}` });
    commands = new CommandClient(nats.nc);
  }, 120_000);

  afterAll(async () => {
    await attested?.stop();
    await unattested?.stop();
    await registry?.stop();
    await nats.teardown();
  });

  it('enrols every attested device without an operator and holds the unattested one', async () => {
    await send(DefineServerPolicy.subject(), {
      policyId: 'fridge-policy',
      name: 'Fridges to the plant broker',
      targetIds: ['plant-broker'],
      topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish-subscribe' }],
      certificateLifetimeDays: 365,
    });
    await send(CreateBatch.subject(), {
      batchId,
      name: 'Fridges, no identity file',
      policyId: 'fridge-policy',
      ownerId: 'acme',
      expectedSize: attestedSize + 1,
    });
    await send(RegisterManufacturerKey.subject(), {
      batchId,
      keyId: factoryKey.keyId,
      publicKey: manufacturerPublicKeyBase64(factoryKey),
    });
    // The devices say they exist; the open request goes to those the registry heard from.
    expect(await attested.announce()).toMatchObject({ announced: attestedSize, failed: 0 });
    expect(await unattested.announce()).toMatchObject({ announced: 1, failed: 0 });
    await send(RequestEnrolmentKeys.subject(), { batchId, requestId, ttlSeconds: 120 });

    const [outsider] = [...unattested.devices()];
    const report = () => query<HeldReport>(registryQuerySubjects.enrolmentKeyRequest, { requestId });
    const summary = () => query<BatchSummary>(registryQuerySubjects.batchSummary, { batchId });
    await waitFor(async () => (await summary()).devices === attestedSize && (await report()).held.length === 1, {
      description: 'attested devices enrolled, the unattested one held',
      timeoutMs: 60_000,
    });
    for (const device of attested.devices()) {
      expect(await query<DeviceDetail>(registryQuerySubjects.device, { deviceId: device.deviceId })).toMatchObject({
        batchId,
        source: 'device-report',
      });
    }
    expect((await report()).held).toEqual([
      expect.objectContaining({ deviceId: outsider!.deviceId, reason: 'unattested', decision: 'pending' }),
    ]);
    // Held is not enrolled: the outsider has no place in the batch until an operator approves it.
    expect(await summary()).toMatchObject({ devices: attestedSize });
  }, 120_000);
});
