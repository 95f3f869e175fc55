import { randomUUID } from 'node:crypto';
import { CertificateIssued, DeviceRevoked } from '@tunnelkey/contracts';
import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceImported,
  policyDefined,
  registrySlice,
  sliceDevice,
  sliceNow,
  type RegistrySlice,
  type SliceDevice,
} from '../test-support/registry-slice.js';
import { UnrecordedCertificatesView } from '../views/unrecorded-certificates.view.js';
import { RecordCertificateHandler } from './record-certificate.handler.js';
import { RecordCertificatesJob } from './record-certificates.job.js';

const notAfter = '2027-03-01T12:00:00.000Z';
const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function issued(device: SliceDevice, serialNumber: string) {
  return CertificateIssued.create({
    id: randomUUID(),
    aggregateId: device.deviceId,
    occurredAt: sliceNow.toISOString(),
    causationId: `csr-${serialNumber}`,
    correlationId: `csr-${serialNumber}`,
    data: {
      deviceId: device.deviceId,
      requestId: `csr-${serialNumber}`,
      authorityId: 'issuing-acme',
      serialNumber,
      subject: `CN=${device.deviceId}`,
      issuer: 'CN=acme issuing CA',
      notBefore: sliceNow.toISOString(),
      notAfter,
      fingerprintSha256: 'cd'.repeat(32),
      publicKeyDigest: device.enrolmentKeyDigest,
      keyId: 'enrolment',
      certificatePem: pem,
      chainPem: [pem],
    },
  });
}

describe('record certificates: view + job (slice)', () => {
  let slice: RegistrySlice;
  let registry: Registry;
  const [device, stranger] = [sliceDevice(), sliceDevice()];

  /** One registry instance's view and job on the slice's store. */
  interface Registry {
    view: UnrecordedCertificatesView;
    job: RecordCertificatesJob;
  }
  const instances: Registry[] = [];
  const startRegistry = async (): Promise<Registry> => {
    const view = new UnrecordedCertificatesView(slice.store, slice.streams, slice.readiness, slice.logger);
    await view.onModuleInit();
    const handler = new RecordCertificateHandler(slice.store, slice.deviceStates, slice.clock, slice.logger);
    const job = new RecordCertificatesJob(view, handler, slice.clock, slice.logger);
    job.onApplicationBootstrap();
    const started = { view, job };
    instances.push(started);
    return started;
  };
  const stopRegistry = async (started: Registry) => {
    await started.job.onModuleDestroy();
    await started.view.onModuleDestroy();
    instances.splice(instances.indexOf(started), 1);
  };
  const fromCa = async (...events: ReturnType<typeof issued>[]) => {
    for (const event of events) {
      await slice.store.append({ context: 'ca', aggregate: 'device', id: event.aggregateId }, [event], {
        expectedVersion: 'any',
        messageId: event.id,
      });
    }
  };
  /** Until every instance's view lists nothing it can still record. */
  const recorded = async () => {
    for (const { job } of instances) await job.sweep();
    for (const { job } of instances) await job.sweep();
  };
  const certifiedSerials = async () =>
    (await slice.written())
      .filter((e) => e.type === 'DeviceCertified')
      .map((e) => [e.aggregateId, (e.data as { serialNumber: string }).serialNumber]);

  beforeEach(async () => {
    slice = await registrySlice();
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026')]);
    await slice.given(deviceStream(device.deviceId), [deviceImported(device, 'fridges-2026')]);
    registry = await startRegistry();
  });
  afterEach(async () => {
    for (const started of [...instances]) {
      await started.job.onModuleDestroy();
      await started.view.onModuleDestroy();
    }
    instances.length = 0;
    await slice.stop();
  });

  it('given an imported device, when the CA issues its certificate, then DeviceCertified, and the view lists nothing', async () => {
    await fromCa(issued(device, '0a1b'));
    await recorded();
    expect(await slice.written()).toEqual([
      {
        aggregateId: device.deviceId,
        type: 'DeviceCertified',
        data: {
          deviceId: device.deviceId,
          authorityId: 'issuing-acme',
          serialNumber: '0a1b',
          fingerprintSha256: 'cd'.repeat(32),
          notAfter,
        },
      },
    ]);
    await slice.settled();
    expect(slice.devices.device(device.deviceId)).toMatchObject({
      status: 'Certified',
      certificate: { serialNumber: '0a1b' },
    });
    await registry.view.catchUp();
    expect(registry.view.devices()).toEqual([]);
  });

  it("records a certificate once, a device's certificates in the order issued, and a refusal (unknown device) does not block the others", async () => {
    const first = issued(device, '0a1b');
    await fromCa(issued(stranger, '0c0c'), first, first, issued(device, '0d0d'));
    await recorded();
    expect(await certifiedSerials()).toEqual([
      [device.deviceId, '0a1b'],
      [device.deviceId, '0d0d'],
    ]);
    await slice.settled();
    expect(slice.devices.device(device.deviceId)).toMatchObject({ certificate: { serialNumber: '0d0d' } });
  });

  it('fail-closed across a restart: a certificate issued while no registry ran is recorded when one starts, once', async () => {
    await stopRegistry(registry);
    await fromCa(issued(device, '0a1b'));
    expect(await certifiedSerials()).toEqual([]);
    registry = await startRegistry();
    await recorded();
    await stopRegistry(registry);
    registry = await startRegistry();
    await recorded();
    expect(await certifiedSerials()).toEqual([[device.deviceId, '0a1b']]);
  });

  it('two registry instances on one log record each certificate once', async () => {
    const other = sliceDevice();
    await slice.given(deviceStream(other.deviceId), [deviceImported(other, 'fridges-2026')]);
    await startRegistry();
    await fromCa(issued(device, '0a1b'), issued(other, '0e0e'), issued(device, '0d0d'));
    await recorded();
    expect(await certifiedSerials()).toEqual(
      expect.arrayContaining([
        [device.deviceId, '0a1b'],
        [device.deviceId, '0d0d'],
        [other.deviceId, '0e0e'],
      ]),
    );
    expect(await certifiedSerials()).toHaveLength(3);
  });

  it('a revoked device is owed nothing: its certificate is not recorded', async () => {
    await slice.given(deviceStream(device.deviceId), [
      {
        type: DeviceRevoked.type,
        data: {
          deviceId: device.deviceId,
          revocationId: 'rev-1',
          reason: 'keyCompromise',
          revokedAt: sliceNow.toISOString(),
        },
      },
    ]);
    await fromCa(issued(device, '0a1b'));
    await recorded();
    expect(await certifiedSerials()).toEqual([]);
    expect(registry.view.devices()).toEqual([]);
  });
});
