import { randomUUID } from 'node:crypto';
import { CertificateIssued } from '@tunnelkey/contracts';
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
import { CertificateIssuedReaction } from './certificate-issued.reaction.js';
import { RecordCertificateHandler } from './record-certificate.handler.js';

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

describe('CertificateIssued reaction (slice)', () => {
  let slice: RegistrySlice;
  let reaction: CertificateIssuedReaction;
  const [device, stranger] = [sliceDevice(), sliceDevice()];
  const fromCa = async (...events: ReturnType<typeof issued>[]) => {
    for (const event of events) {
      await slice.store.append({ context: 'ca', aggregate: 'device', id: event.aggregateId }, [event], {
        expectedVersion: 'any',
        messageId: event.id,
      });
    }
    await reaction.caughtUp();
  };
  beforeEach(async () => {
    slice = await registrySlice();
    const handler = new RecordCertificateHandler(slice.store, slice.deviceStates, slice.clock, slice.logger);
    reaction = new CertificateIssuedReaction(slice.store, slice.streams, handler, slice.logger);
    await reaction.onApplicationBootstrap();
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026')]);
    await slice.given(deviceStream(device.deviceId), [deviceImported(device, 'fridges-2026')]);
  });
  afterEach(async () => {
    await reaction.onModuleDestroy();
    await slice.stop();
  });

  it('given an imported device, when the CA issues its certificate, then DeviceCertified', async () => {
    await fromCa(issued(device, '0a1b'));
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
  });

  it('records a certificate once, and a refusal (unknown device) does not block the ones after it', async () => {
    const first = issued(device, '0a1b');
    await fromCa(issued(stranger, '0c0c'), first, first, issued(device, '0d0d'));
    expect((await slice.written()).map((e) => [e.type, (e.data as { serialNumber: string }).serialNumber])).toEqual([
      ['DeviceCertified', '0a1b'],
      ['DeviceCertified', '0d0d'],
    ]);
  });
});
