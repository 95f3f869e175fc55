import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { manufacturerAttestationBytes } from '@tunnelkey/contracts';
import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceAnnounced,
  deviceImported,
  firmware,
  policyDefined,
  registrySlice,
  sliceDevice,
  sliceNow,
  uplink,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { EnrolmentKeyReportHandler } from './enrolment-key-report.handler.js';

const expiresAt = new Date(sliceNow.getTime() + 60_000).toISOString();
const requested = (requestId: string, deviceIds?: string[]) => ({
  type: 'EnrolmentKeysRequested',
  data: { batchId: 'no-file', requestId, expiresAt, ...(deviceIds ? { deviceIds } : {}) },
});
type Device = ReturnType<typeof sliceDevice>;
type Attestation = { keyId: string; signature: string };
const report = (device: Device, requestId: string, manufacturerAttestation?: Attestation) =>
  uplink('enrolment-key-report', device.deviceId, {
    requestId,
    enrolmentPublicKey: device.enrolmentPublicKey,
    firmwareMeasurement: firmware,
    ...(manufacturerAttestation ? { manufacturerAttestation } : {}),
  });

function manufacturer(keyId: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    keyId,
    registered: {
      type: 'ManufacturerKeyRegistered',
      data: { batchId: 'no-file', keyId, publicKey: spki.toString('base64'), keyDigest: 'ab'.repeat(32) },
    },
    attest: (device: Device, key: KeyObject = privateKey): Attestation => ({
      keyId,
      signature: sign('sha256', manufacturerAttestationBytes(device), { key, dsaEncoding: 'ieee-p1363' }).toString(
        'base64',
      ),
    }),
  };
}

describe('enrolment-key-report uplink (slice)', () => {
  let slice: RegistrySlice;
  let handler: EnrolmentKeyReportHandler;
  const [device, other, third] = [sliceDevice(), sliceDevice(), sliceDevice()];
  const acme = manufacturer('acme-factory');
  const unregistered = manufacturer('elsewhere');
  beforeEach(async () => {
    slice = await registrySlice();
    const { store, deviceStates, requests, batches, admission, clock, logger } = slice;
    handler = new EnrolmentKeyReportHandler(store, deviceStates, requests, batches, admission, clock, logger);
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('no-file'), [
      batchCreated('no-file', 1),
      acme.registered,
      requested('ask-1'),
      requested('ask-named', [other.deviceId]),
    ]);
    await slice.given(deviceStream(device.deviceId), [deviceAnnounced(device)]);
  });
  afterEach(() => slice.stop());

  const joined = (who: Device, requestId: string) => ({
    aggregateId: who.deviceId,
    type: 'EnrolmentKeyReported',
    data: {
      deviceId: who.deviceId,
      requestId,
      batchId: 'no-file',
      enrolmentPublicKey: who.enrolmentPublicKey,
      enrolmentKeyDigest: who.enrolmentKeyDigest,
      firmwareMeasurement: firmware,
    },
  });

  it('given an open request, when an unattested device reports its key, then it is held for approval, not enrolled', async () => {
    await expect(handler.handle(report(device, 'ask-1'))).resolves.toEqual({ accepted: true, detail: 'held' });
    expect(await slice.written()).toEqual([
      {
        aggregateId: 'no-file',
        type: 'EnrolmentApprovalRequested',
        data: {
          batchId: 'no-file',
          requestId: 'ask-1',
          deviceId: device.deviceId,
          enrolmentPublicKey: device.enrolmentPublicKey,
          enrolmentKeyDigest: device.enrolmentKeyDigest,
          firmwareMeasurement: firmware,
          reason: 'unattested',
        },
      },
    ]);
    expect(slice.batches.batchSummary('no-file')).toMatchObject({ devices: 0 });
    // Reporting again holds it once.
    await expect(handler.handle(report(device, 'ask-1'))).resolves.toEqual({ accepted: true, detail: 'held' });
    expect(await slice.written()).toHaveLength(1);
    expect(slice.requests.report('ask-1', sliceNow)?.held).toEqual([
      {
        deviceId: device.deviceId,
        enrolmentKeyDigest: device.enrolmentKeyDigest,
        firmwareMeasurement: firmware,
        reason: 'unattested',
        decision: 'pending',
      },
    ]);
  });

  it('holds every one of many unattested devices that answer at the same moment (one batch stream, no lost hold)', async () => {
    const crowd = Array.from({ length: 12 }, () => sliceDevice());
    for (const member of crowd) await slice.given(deviceStream(member.deviceId), [deviceAnnounced(member)]);
    const outcomes = await Promise.all(crowd.map((member) => handler.handle(report(member, 'ask-1'))));
    expect(outcomes).toEqual(crowd.map(() => ({ accepted: true, detail: 'held' })));
    const held = (await slice.written()).filter((event) => event.type === 'EnrolmentApprovalRequested');
    expect(held.map((event) => (event.data as { deviceId: string }).deviceId).sort()).toEqual(
      crowd.map((member) => member.deviceId).sort(),
    );
  });

  it('holds an attestation by an unregistered key, a forged one, or one for another key (attestation-invalid)', async () => {
    for (const attestation of [
      unregistered.attest(device),
      acme.attest(device, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      acme.attest(third),
    ]) {
      await expect(handler.handle(report(device, 'ask-1', attestation))).resolves.toEqual({
        accepted: true,
        detail: 'held',
      });
    }
    const written = await slice.written();
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ type: 'EnrolmentApprovalRequested', data: { reason: 'attestation-invalid' } });
    expect(slice.batches.batchSummary('no-file')).toMatchObject({ devices: 0 });
  });

  it('lets a device attested by a manufacturer key of the batch join; held devices take no place', async () => {
    await handler.handle(report(third, 'ask-1')); // held
    await expect(handler.handle(report(device, 'ask-1', acme.attest(device)))).resolves.toEqual({ accepted: true });
    expect((await slice.written()).map((e) => e.type)).toEqual([
      'EnrolmentApprovalRequested',
      'BatchPlacesReserved',
      'EnrolmentKeyReported',
    ]);
    expect((await slice.written())[2]).toEqual(joined(device, 'ask-1'));
    expect(slice.batches.batchSummary('no-file')).toMatchObject({ devices: 1, byStatus: { Imported: 1 } });
  });

  it('lets a device named in the request join without an attestation', async () => {
    await expect(handler.handle(report(other, 'ask-named'))).resolves.toEqual({ accepted: true });
    expect(await slice.written()).toEqual([
      {
        aggregateId: 'no-file',
        type: 'BatchPlacesReserved',
        data: { batchId: 'no-file', deviceIds: [other.deviceId] },
      },
      joined(other, 'ask-named'),
    ]);
  });

  it('refuses an unknown or expired request, a device not asked, a full batch; writes nothing', async () => {
    expect(await handler.handle(report(device, 'ask-0'))).toMatchObject({ accepted: false, code: 'unknown-request' });
    expect(await handler.handle(report(device, 'ask-named'))).toMatchObject({ accepted: false, code: 'not-requested' });
    await slice.given(deviceStream(third.deviceId), [deviceImported(third, 'no-file')]);
    expect(await handler.handle(report(device, 'ask-1', acme.attest(device)))).toMatchObject({
      accepted: false,
      code: 'batch-full',
    });
    slice.setNow(new Date(sliceNow.getTime() + 120_000));
    expect(await handler.handle(report(device, 'ask-1'))).toMatchObject({ accepted: false, code: 'request-expired' });
    expect(await slice.written()).toEqual([]);
  });
});
