/**
 * Issuance racing a revocation on the same devices, on real JetStream, two CA instances: one
 * applies the revocations, the other (and the first too) issues certificates at the same moment.
 * Whatever the interleaving, a device the log says revoked holds no certificate that is not
 * revoked too, and no caller was handed one; a CSR after the revocation is refused, though the
 * registry has not recorded DeviceRevoked.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { CertificateIssued, CertificateRevoked, RevocationRequested } from '@tunnelkey/contracts';
import { generatePlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { Kek } from '@tunnelkey/pki';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { deviceCertificatesStream } from './deciders/device-certificates.decider.js';
import type { IssuanceOutcome } from './issue-certificate/issue-certificate.handler.js';
import { caRevocationStream } from './revoke-certificates/revocation-applied.decider.js';
import { inProcessCeremony } from './ceremony/run-ceremony.js';
import { startCa, type RunningCa } from './start-ca.js';
import { TestDevice } from './test-support/ca-slice.test-helper.js';
import { RegistryFacts } from './test-support/registry-events.test-helper.js';

const nats = natsFixture();
const logger = pino({ level: 'warn' });
const kekBytes = randomBytes(32);
const devices = 12;

describe('CA: issuance racing a revocation (real JetStream, two instances)', () => {
  let store: JetStreamEventStore;
  let registry: RegistryFacts;
  let platform: PlatformKey;
  const instances: RunningCa[] = [];

  const start = async (instanceId: string) => {
    const ca = await startCa({
      nats: nats.nc,
      namespace: nats.namespace,
      kek: await Kek.fromBytes(new Uint8Array(kekBytes)),
      platformKey: platform,
      config: { instanceId, httpPort: 0, crlBaseUrl: 'http://127.0.0.1:8480/crl' },
      logger,
    });
    instances.push(ca);
    return ca;
  };

  beforeAll(async () => {
    await nats.setup();
    store = new JetStreamEventStore(nats.nc, { namespace: nats.namespace, logger });
    await store.ensureStreams(['registry', 'ca', 'revocation']);
    registry = new RegistryFacts(store);
    platform = (await generatePlatformKey()).key;
    await registry.definePolicy('p', 365);
    await registry.createBatch('b', 'p', 'acme', devices);
    // The admin ceremony (root key in memory) signs acme's issuing CA: the CA creates none itself.
    await inProcessCeremony({
      nats: nats.nc,
      namespace: nats.namespace,
      serviceKek: await Kek.fromBytes(new Uint8Array(kekBytes)),
      owners: ['acme'],
      logger,
    });
  }, 60_000);

  afterAll(async () => {
    for (const ca of instances) await ca.stop();
    await store?.close();
    await nats.teardown();
  });

  const revocationOf = (deviceIds: string[]) => {
    const revocationId = `rv-${randomUUID()}`;
    return RevocationRequested.create({
      id: randomUUID(),
      aggregateId: revocationId,
      occurredAt: new Date().toISOString(),
      causationId: 'test',
      correlationId: `corr-${revocationId}`,
      data: { revocationId, scope: 'device', deviceIds, reason: 'keyCompromise' },
    });
  };

  const csr = async (ca: RunningCa, device: TestDevice, requestId: string) =>
    ca.issuance.issue({
      deviceId: device.deviceId,
      requestId,
      keyId: 'enrolment',
      csrDer: await device.csr(),
      receivedAt: new Date(),
    });

  it('never leaves a certificate of a revoked device unrevoked, nor hands one out', async () => {
    const revoking = await start('ca-revoking');
    const issuing = await start('ca-issuing');
    const made = await Promise.all(Array.from({ length: devices }, () => TestDevice.create()));
    for (const device of made) {
      await registry.importDevice(device.deviceId, 'b', device.publicKeySpki);
      await registry.verifyDevice(device.deviceId, device.publicKeySpki);
    }
    // Every device holds a certificate before its revocation.
    for (const device of made) expect((await csr(issuing, device, 'before')).kind).toBe('issued');

    const handedOut = new Map<string, IssuanceOutcome[]>(made.map((d) => [d.deviceId, []]));
    const revocations = made.map((d) => revocationOf([d.deviceId]));
    // CSRs of every device on both instances, all at once, while the devices are revoked one after
    // the other (as the durable reaction applies requests): early ones refuse, late ones race or revoke.
    const racing = made.flatMap((device) =>
      [csr(issuing, device, 'race-1'), csr(revoking, device, 'race-2'), csr(issuing, device, 'race-3')].map(
        async (outcome) => handedOut.get(device.deviceId)!.push(await outcome),
      ),
    );
    const revoked = (async () => {
      for (const revocation of revocations) await revoking.revocation.apply(revocation);
    })();
    await Promise.all([revoked, ...racing]);

    // After the revocation: refused on either instance, though the registry never recorded DeviceRevoked.
    for (const device of made) {
      for (const ca of [issuing, revoking]) {
        const after = await csr(ca, device, `after-${ca === issuing ? 'issuing' : 'revoking'}`);
        expect(after).toMatchObject({ kind: 'rejected', reason: 'device-revoked' });
        handedOut.get(device.deviceId)!.push(after);
      }
    }

    for (const [i, device] of made.entries()) {
      const applied = await store.read(caRevocationStream(revocations[i]!.data.revocationId));
      expect(applied.events.map((r) => r.event.type)).toEqual(['RevocationApplied']);
      const events = (await store.read(deviceCertificatesStream(device.deviceId))).events.map((r) => r.event);
      const issuedSerials = events
        .filter((e) => e.type === 'CertificateIssued')
        .map((e) => CertificateIssued.parse(e).data.serialNumber);
      const revokedSerials = new Set(
        events.filter((e) => e.type === 'CertificateRevoked').map((e) => CertificateRevoked.parse(e).data.serialNumber),
      );
      expect(issuedSerials.length).toBeGreaterThan(0);
      expect(issuedSerials.filter((serial) => !revokedSerials.has(serial))).toEqual([]);
      const handedOutSerials = handedOut
        .get(device.deviceId)!
        .flatMap((o) => (o.kind === 'issued' ? [o.certificate.serialNumber] : []));
      expect(handedOutSerials.filter((serial) => !revokedSerials.has(serial))).toEqual([]);
    }
  }, 120_000);
});
