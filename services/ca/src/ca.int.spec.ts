/**
 * The CA against a real NATS (natsFixture: the server on NATS_URL, isolated by namespace). The
 * test plays the registry (appends its events) and the devices (real PUF keys, CSRs, envelopes);
 * openssl checks every certificate independently of our own parser. Each test makes the devices
 * it needs, so the tests pass in any order and alone.
 */
import 'reflect-metadata';
import { createDecipheriv, createHash, createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  CertifyDevices,
  CertificateIssued,
  CertificateRejected,
  CreateIssuingAuthority,
  RevocationRequested,
  streamName,
} from '@tunnelkey/contracts';
import { generatePlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { CommandClient } from '@tunnelkey/messaging';
import { Kek, summarizeCertificate } from '@tunnelkey/pki';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';
import { KvCaKeyStore } from './jetstream/kv-ca-key-store.js';
import { issuingAuthorityId } from './authority/certificate-authority.js';
import { inProcessCeremony, type InProcessCeremony } from './ceremony/run-ceremony.js';
import { csrRequestStream } from './certify-devices/csr-request.decider.js';
import { startCa, type RunningCa } from './start-ca.js';
import { DeviceSide } from './test-support/device-side.test-helper.js';
import { RegistryFacts } from './test-support/registry-events.test-helper.js';

const run = promisify(execFile);
const nats = natsFixture();
const logger = pino({ level: 'warn' });
const kekBytes = randomBytes(32);

describe('CA service (real NATS, real PUF devices, openssl)', () => {
  let namespace: string;
  let store: JetStreamEventStore;
  let registry: RegistryFacts;
  let platform: PlatformKey;
  let ca: RunningCa;
  let commands: CommandClient;
  let workDir: string;
  const made: DeviceSide[] = [];
  let seeds = 0;

  // A copy: Kek.fromBytes zeroes a Buffer's shared memory (Buffer#slice is a view).
  const kekOf = () => Kek.fromBytes(new Uint8Array(kekBytes));

  const start = async (instanceId: string, on = namespace) =>
    startCa({
      nats: nats.nc,
      namespace: on,
      kek: await kekOf(),
      platformKey: platform,
      config: { instanceId, httpPort: 0, crlBaseUrl: 'http://127.0.0.1:8480/crl', maxConcurrentIssuance: 32 },
      logger,
    });

  /** A device of the registry's batch `batchId`: imported, verified unless told otherwise, revoked if told. */
  const device = async (
    options: { batchId?: string; verified?: boolean; revoked?: boolean; imported?: boolean; on?: Isolated } = {},
  ) => {
    const on = options.on ?? { namespace, registry };
    const made_ = await DeviceSide.manufacture(`ca-int-${on.namespace}-${++seeds}`, nats.nc, on.namespace);
    made.push(made_);
    if (options.imported === false) return made_;
    await on.registry.importDevice(made_.deviceId, options.batchId ?? 'fridges-1', made_.enrolmentPublicKey);
    if (options.verified !== false) await on.registry.verifyDevice(made_.deviceId, made_.enrolmentPublicKey);
    if (options.revoked) await on.registry.revokeDevice(made_.deviceId);
    return made_;
  };

  interface Isolated {
    namespace: string;
    registry: RegistryFacts;
    store: JetStreamEventStore;
    ca: RunningCa;
    ceremony: InProcessCeremony;
  }

  /**
   * A CA of its own in a namespace of its own, with the policy and batch `fridges-1` of owner acme:
   * for a test that leaves the CA in a state no other test may see (future-dated CRLs, a new owner).
   */
  const isolated = async (run: (on: Isolated) => Promise<void>, owners: readonly string[] = ['acme', 'globex']) => {
    const on = nats.subNamespace();
    const ownStore = new JetStreamEventStore(nats.nc, { namespace: on, logger });
    await ownStore.ensureStreams(['registry', 'ca']);
    const ownRegistry = new RegistryFacts(ownStore);
    await ownRegistry.definePolicy('fridge-policy', 365);
    await ownRegistry.createBatch('fridges-1', 'fridge-policy', 'acme');
    const ceremony = await inProcessCeremony({
      nats: nats.nc,
      namespace: on,
      serviceKek: await kekOf(),
      owners,
      logger,
    });
    const ownCa = await start('ca-isolated', on);
    try {
      await run({ namespace: on, registry: ownRegistry, store: ownStore, ca: ownCa, ceremony });
    } finally {
      await ownCa.stop();
      await ownStore.close();
    }
  };

  const lastOf = async (device: DeviceSide, kind: string, count = 1) =>
    waitFor(
      async () => {
        const found = await device.received(kind, platform.publicKey);
        return found.length >= count ? found[count - 1] : undefined;
      },
      { description: `${kind} #${count} for ${device.deviceId}`, timeoutMs: 15_000 },
    );

  const enrolmentCsr = async (device: DeviceSide) => Buffer.from(await device.csr(device.enrolment)).toString('base64');

  /** Sends a CSR for the enrolment key and waits for the certificate. */
  const certify = async (device: DeviceSide, requestId: string) => {
    const before = (await device.received('certificate', platform.publicKey)).length;
    device.send(await device.csrMessage({ requestId, keyId: 'enrolment', csr: await enrolmentCsr(device) }));
    return (await lastOf(device, 'certificate', before + 1)).body as {
      requestId: string;
      serialNumber: string;
      certificatePem: string;
      chainPem: string[];
    };
  };

  const deviceEvents = async (deviceId: string) =>
    (await store.read({ context: 'ca', aggregate: 'device', id: deviceId })).events.map((r) => r.event);

  const createAcme = () =>
    commands.request<{ authorityId: string; certificatePem: string }>(CreateIssuingAuthority.subject(namespace), {
      commandId: `create-acme-${randomUUID()}`,
      ownerId: 'acme',
    });

  beforeAll(async () => {
    await nats.setup();
    namespace = nats.namespace;
    store = new JetStreamEventStore(nats.nc, { namespace, logger });
    await store.ensureStreams(['registry', 'ca']);
    registry = new RegistryFacts(store);
    platform = (await generatePlatformKey()).key;
    workDir = await mkdtemp(join(tmpdir(), 'tunnelkey-ca-'));
    await registry.definePolicy('fridge-policy', 365);
    await registry.createBatch('fridges-1', 'fridge-policy', 'acme');
    // The admin ceremony (root key in memory here) signs acme's issuing CA before the CA starts.
    await inProcessCeremony({ nats: nats.nc, namespace, serviceKek: await kekOf(), owners: ['acme'], logger });
    ca = await start('ca-a');
    commands = new CommandClient(nats.nc);
  }, 60_000);

  afterAll(async () => {
    for (const made_ of made) made_.stop();
    await ca?.stop();
    await store?.close();
    await rm(workDir, { recursive: true, force: true });
    await nats.teardown();
  });

  it('is ready once the projection has caught up, with a root and the owner issuing CA', async () => {
    expect((await fetch(`${ca.service.url}/ready`)).status).toBe(200);
    const reply = await createAcme();
    expect(reply.authorityId).toBe(issuingAuthorityId('acme'));
    expect(summarizeCertificate(reply.certificatePem).isCA).toBe(true);
    const authorities = await store.read({ context: 'ca', aggregate: 'authority', id: 'root' });
    expect(authorities.events.map((r) => r.event.type)).toEqual(['AuthorityCreated']);
    // The root key is not in the service's bucket: it stays with the ceremony.
    expect(await (await KvCaKeyStore.open(nats.nc, namespace)).get('root')).toBeUndefined();
  });

  it('CertifyDevices asks every verified device for a CSR; openssl verifies each certificate', async () => {
    const batchId = `certify-${randomUUID().slice(0, 8)}`;
    await registry.createBatch(batchId, 'fridge-policy', 'acme');
    const devices = [
      await device({ batchId }),
      await device({ batchId }),
      await device({ batchId }),
      await device({ batchId }),
    ];
    await device({ batchId, verified: false });
    await device({ batchId, revoked: true });
    const result = await commands.request<{ devices: number }>(CertifyDevices.subject(namespace), {
      commandId: `certify-${batchId}`,
      scope: { kind: 'batch', batchId },
    });
    expect(result.devices).toBe(devices.length); // the unverified and the revoked device are not asked
    for (const device of devices) {
      const request = await lastOf(device, 'csr-request');
      const { requestId, keyId } = request.body as { requestId: string; keyId: string };
      expect(keyId).toBe('enrolment');
      device.send(await device.csrMessage({ requestId, keyId, csr: await enrolmentCsr(device) }));
    }
    for (const device of devices) {
      const delivered = (await lastOf(device, 'certificate')).body as {
        certificatePem: string;
        chainPem: string[];
        serialNumber: string;
      };
      expect(delivered.chainPem).toHaveLength(2);
      const [issuing, root] = delivered.chainPem;
      await writeFile(join(workDir, 'root.pem'), root!);
      await writeFile(join(workDir, 'issuing.pem'), issuing!);
      await writeFile(join(workDir, 'leaf.pem'), delivered.certificatePem);
      const verified = await run(
        'openssl',
        ['verify', '-CAfile', 'root.pem', '-untrusted', 'issuing.pem', '-purpose', 'sslclient', 'leaf.pem'],
        { cwd: workDir },
      );
      expect(verified.stdout).toContain('leaf.pem: OK');
      const { stdout: text } = await run('openssl', ['x509', '-in', 'leaf.pem', '-text', '-noout'], { cwd: workDir });
      expect(text).toContain(`Subject: CN = ${device.deviceId}`);
      expect(text).toMatch(new RegExp(`URI:urn:[^\\n]*${device.deviceId}|URI:[^\\n]*${device.deviceId}`));
      expect(text).toContain('TLS Web Client Authentication');
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
      expect(text).toContain('X509v3 Subject Key Identifier');
      expect(text).toContain('X509v3 Authority Key Identifier');
      expect(text).toContain(`URI:http://127.0.0.1:8480/crl/${issuingAuthorityId('acme')}.crl`);
      expect(delivered.serialNumber).toMatch(/^[0-9a-f]{30,32}$/); // 128-bit random (top bit cleared)
      const events = await deviceEvents(device.deviceId);
      expect(events.map((e) => e.type)).toEqual(['CertificateIssued']);
      expect(CertificateIssued.parse(events[0]).data.serialNumber).toBe(delivered.serialNumber);
      // The request was recorded (on its own stream) before it was sent.
      const { requestId } = (await lastOf(device, 'csr-request')).body as { requestId: string };
      const { events: requested } = await store.read(csrRequestStream(requestId));
      expect(requested.map((r) => r.event.type)).toEqual(['CsrRequested']);
    }
  }, 60_000);

  it('certifies a TLS key attested by the enrolment key', async () => {
    const tlsDevice = await device();
    const csr = Buffer.from(await tlsDevice.csr(tlsDevice.tls)).toString('base64');
    tlsDevice.send(
      await tlsDevice.csrMessage({
        requestId: 'tls-req-1',
        keyId: 'tls-0',
        csr,
        keyAttestation: await tlsDevice.attest('tls-0', tlsDevice.tls),
      }),
    );
    const delivered = (await lastOf(tlsDevice, 'certificate')).body as { requestId: string; certificatePem: string };
    expect(delivered.requestId).toBe('tls-req-1');
    const events = (await deviceEvents(tlsDevice.deviceId))
      .filter((e) => e.type === 'CertificateIssued')
      .map((e) => CertificateIssued.parse(e).data);
    expect(events).toEqual([expect.objectContaining({ requestId: 'tls-req-1', keyId: 'tls-0' })]);
  });

  it('a retried CSR (same requestId, same key) returns the same certificate and records nothing new', async () => {
    const retrying = await device();
    const first = await certify(retrying, 'retry-1');
    const again = await certify(retrying, 'retry-1'); // a fresh CSR (new signature), same key
    expect(again.serialNumber).toBe(first.serialNumber);
    expect((await deviceEvents(retrying.deviceId)).filter((e) => e.type === 'CertificateIssued')).toHaveLength(1);
  });

  /** The nth rejection in the device's inbox has this reason, a CertificateRejected records it, no certificate. */
  const expectRejection = async (device: DeviceSide, reason: string, requestId: string, nth = 1) => {
    const rejection = await lastOf(device, 'rejection', nth);
    expect((rejection.body as { code: string }).code).toBe(reason);
    const events = await deviceEvents(device.deviceId);
    const rejected = events
      .filter((e) => e.type === 'CertificateRejected')
      .map((e) => CertificateRejected.parse(e).data);
    expect(rejected).toContainEqual(expect.objectContaining({ requestId, reason }));
    expect(
      events.filter((e) => e.type === 'CertificateIssued' && CertificateIssued.parse(e).data.requestId === requestId),
    ).toHaveLength(0);
  };

  /** How many CSR messages the CA ignored for `reason` (its Prometheus counter). */
  const ignored = async (reason: string) => {
    const text = await (await fetch(`${ca.service.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('ca_certificate_requests_total{') &&
          l.includes('outcome="ignored"') &&
          l.includes(`reason="${reason}"`),
      );
    return line ? Number(line.split(' ').pop()) : 0;
  };

  /** An unauthenticated message changes nothing: counted as ignored, no event, no answer. */
  const expectIgnored = async (device: DeviceSide, reason: string, requestId: string, before: number) => {
    await waitFor(async () => (await ignored(reason)) > before, {
      description: `CSR ignored for ${reason}`,
      timeoutMs: 15_000,
    });
    const events = await deviceEvents(device.deviceId);
    expect(events.filter((e) => (e.data as { requestId?: string }).requestId === requestId)).toHaveLength(0);
  };

  it('ignores a CSR from an unknown device: nothing recorded, nothing answered', async () => {
    const unknown = await device({ imported: false });
    const before = await ignored('unknown-device');
    unknown.send(
      await unknown.csrMessage({ requestId: 'unknown-1', keyId: 'enrolment', csr: await enrolmentCsr(unknown) }),
    );
    await expectIgnored(unknown, 'unknown-device', 'unknown-1', before);
    expect(await unknown.received('rejection', platform.publicKey)).toHaveLength(0);
    expect(await unknown.received('certificate', platform.publicKey)).toHaveLength(0);
  });

  it('refuses an unverified device', async () => {
    const unverified = await device({ verified: false });
    unverified.send(
      await unverified.csrMessage({
        requestId: 'unverified-1',
        keyId: 'enrolment',
        csr: await enrolmentCsr(unverified),
      }),
    );
    await expectRejection(unverified, 'device-not-verified', 'unverified-1');
  });

  it('refuses a revoked device', async () => {
    const revoked = await device({ revoked: true });
    revoked.send(
      await revoked.csrMessage({ requestId: 'revoked-1', keyId: 'enrolment', csr: await enrolmentCsr(revoked) }),
    );
    await expectRejection(revoked, 'device-revoked', 'revoked-1');
  });

  it('refuses a CSR key that is neither enrolled nor attested, and a forged attestation', async () => {
    const refused = await device();
    const tlsCsr = Buffer.from(await refused.csr(refused.tls)).toString('base64');
    refused.send(await refused.csrMessage({ requestId: 'not-enrolled-1', keyId: 'enrolment', csr: tlsCsr }));
    await expectRejection(refused, 'key-not-enrolled', 'not-enrolled-1', 1);
    const forgedAttestation = await refused.attest('tls-0', refused.tls, refused.tls.privateKey);
    refused.send(
      await refused.csrMessage({
        requestId: 'forged-attestation-1',
        keyId: 'tls-0',
        csr: tlsCsr,
        keyAttestation: forgedAttestation,
      }),
    );
    await expectRejection(refused, 'bad-key-attestation', 'forged-attestation-1', 2);
  });

  it('ignores a forged envelope and a replayed one: nothing recorded, nothing answered', async () => {
    const target = await device();
    const csr = await enrolmentCsr(target);
    const forgedBefore = await ignored('bad-message-signature');
    target.send(await target.csrMessage({ requestId: 'forged-1', keyId: 'enrolment', csr }, target.tls.privateKey));
    await expectIgnored(target, 'bad-message-signature', 'forged-1', forgedBefore);
    const genuine = await target.csrMessage({ requestId: 'replay-1', keyId: 'enrolment', csr });
    target.send(genuine);
    await lastOf(target, 'certificate', 1);
    const replayedBefore = await ignored('replayed-message');
    target.send(genuine); // the same bytes again
    await waitFor(async () => (await ignored('replayed-message')) > replayedBefore, {
      description: 'replay ignored',
      timeoutMs: 15_000,
    });
    expect(
      (await deviceEvents(target.deviceId)).filter(
        (e) => e.type === 'CertificateIssued' && (e.data as { requestId: string }).requestId === 'replay-1',
      ),
    ).toHaveLength(1);
    expect(await target.received('rejection', platform.publicKey)).toHaveLength(0);
    expect(await target.received('certificate', platform.publicKey)).toHaveLength(1);
  });

  it('two CA instances racing on the same requests issue one certificate per request', async () => {
    const caB = await start('ca-b');
    try {
      const racers = [await device(), await device(), await device()];
      for (const racer of racers) {
        const csrDer = await racer.csr(racer.enrolment);
        const request = {
          deviceId: racer.deviceId,
          requestId: `race-${racer.deviceId.slice(2, 12)}`,
          keyId: 'enrolment',
          csrDer,
          receivedAt: new Date(),
        };
        const [a, b] = await Promise.all([
          ca.issuance.issue(request),
          caB.issuance.issue({ ...request, receivedAt: new Date() }),
        ]);
        expect(a.kind).toBe('issued');
        expect(b.kind).toBe('issued');
        if (a.kind !== 'issued' || b.kind !== 'issued') return;
        expect(a.certificate.serialNumber).toBe(b.certificate.serialNumber);
        expect([a.reused, b.reused].sort()).toEqual([false, true]);
        const issued = (await deviceEvents(racer.deviceId)).filter(
          (e) => e.type === 'CertificateIssued' && CertificateIssued.parse(e).data.requestId === request.requestId,
        );
        expect(issued).toHaveLength(1);
      }
    } finally {
      await caB.stop();
    }
  }, 30_000);

  it('never writes private key material to any stream (CA keys, platform key, device keys)', async () => {
    await createAcme();
    // Every kind of event the CA writes: authorities, certificates, a revocation, CRLs.
    await certify(await device(), 'secrets-1');
    const revoked = await device();
    await certify(revoked, 'secrets-2');
    const revocationId = `rv-secrets-${randomUUID().slice(0, 8)}`;
    await ca.revocation.apply(
      RevocationRequested.create({
        id: randomUUID(),
        aggregateId: revocationId,
        occurredAt: new Date().toISOString(),
        causationId: 'test',
        correlationId: 'test',
        data: { revocationId, scope: 'device', deviceIds: [revoked.deviceId], reason: 'keyCompromise' },
      }),
    );
    const keyStore = await KvCaKeyStore.open(nats.nc, namespace);
    const secrets: Buffer[] = [];
    expect(await keyStore.get('root')).toBeUndefined();
    for (const authorityId of [issuingAuthorityId('acme')]) {
      const wrapped = Buffer.from((await keyStore.get(authorityId))!);
      secrets.push(wrapped);
      // Open the blob as the KEK holder would (magic|version|kekId|iv|ciphertext|tag), to know what to look for.
      const header = wrapped.subarray(0, 25);
      const decipher = createDecipheriv('aes-256-gcm', kekBytes, wrapped.subarray(13, 25));
      decipher.setAAD(Buffer.concat([header, Buffer.from(`tunnelkey:ca-key:v1:${authorityId}`)]));
      decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
      const pkcs8 = Buffer.concat([decipher.update(wrapped.subarray(25, wrapped.length - 16)), decipher.final()]);
      const d = Buffer.from(
        createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }).d!,
        'base64url',
      );
      secrets.push(pkcs8, d);
    }
    secrets.push(kekBytes);
    const needles = secrets.flatMap((s) => [
      s,
      Buffer.from(s.toString('base64')),
      Buffer.from(s.toString('base64url')),
      Buffer.from(s.toString('hex')),
    ]);
    const jsm = await jetstreamManager(nats.nc);
    let scanned = 0;
    for (const name of [streamName('ca', namespace), streamName('registry', namespace)]) {
      const last = (await jsm.streams.info(name)).state.last_seq;
      for (let seq = 1; seq <= last; seq++) {
        const msg = await jsm.streams.getMessage(name, { seq }).catch(() => null);
        if (!msg) continue;
        scanned++;
        const bytes = Buffer.from(msg.data);
        for (const needle of needles) expect(bytes.includes(needle)).toBe(false);
      }
    }
    expect(scanned).toBeGreaterThan(10);
  });

  it('applies revocations queued behind one with it: one CRL, a RevocationApplied each', async () => {
    const crlCount = async () => {
      let n = 0;
      await store.replay('ca', (r) => void (r.event.type === 'CrlPublished' && n++), { aggregate: 'crl' });
      return n;
    };
    const request = (deviceId: string) =>
      RevocationRequested.create({
        id: randomUUID(),
        aggregateId: `rv-queued-${deviceId.slice(2, 14)}`,
        occurredAt: new Date().toISOString(),
        causationId: 'test',
        correlationId: 'test',
        data: {
          revocationId: `rv-queued-${deviceId.slice(2, 14)}`,
          scope: 'device',
          deviceIds: [deviceId],
          reason: 'keyCompromise',
        },
      });
    const victims = [await device(), await device(), await device()];
    for (const [i, victim] of victims.entries()) await certify(victim, `queued-${i}`);
    const [first, second, third] = victims.map((d) => request(d.deviceId)) as [
      ReturnType<typeof request>,
      ReturnType<typeof request>,
      ReturnType<typeof request>,
    ];
    const before = await crlCount();
    const [applied] = await ca.revocation.apply(first, [second, third]);
    expect(await crlCount()).toBe(before + 1);
    expect(applied).toMatchObject({ revocationId: first.data.revocationId, alreadyRevoked: 0 });
    for (const r of [second, third]) {
      const { events } = await store.read({ context: 'ca', aggregate: 'revocation', id: r.data.revocationId });
      expect(events.map((e) => e.event.data)).toEqual([
        expect.objectContaining({ revocationId: r.data.revocationId, alreadyRevoked: 0, crls: applied!.crls }),
      ]);
      const revoked = (await deviceEvents(r.data.deviceIds[0]!)).filter((e) => e.type === 'CertificateRevoked');
      expect(revoked.length).toBeGreaterThan(0);
      expect(revoked.every((e) => (e.data as { revocationId: string }).revocationId === r.data.revocationId)).toBe(
        true,
      );
    }
    // Their own turn (the durable delivering them) finds them applied.
    await expect(ca.revocation.apply(third)).resolves.toEqual([
      expect.objectContaining({ revocationId: third.data.revocationId, crls: applied!.crls }),
    ]);
    expect(await crlCount()).toBe(before + 1);
  });

  it('serves the current CRL at its distribution point over HTTP: DER, its digest as ETag; 404 otherwise', async () => {
    const authorityId = (await ca.authority.issuingFor('acme')).authorityId;
    const published = await ca.crls.ensurePublished(authorityId);
    const response = await fetch(`${ca.service.url}/crl/${authorityId}.crl`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/pkix-crl');
    expect(response.headers.get('etag')).toBe(`"${published.crlDigest}"`);
    expect(response.headers.get('cache-control')).toBe('public, max-age=60');
    const der = Buffer.from(await response.arrayBuffer());
    expect(createHash('sha256').update(der).digest('hex')).toBe(published.crlDigest);
    // An independent reader: openssl parses what was served as a DER CRL of this issuer.
    const file = join(workDir, 'served.crl');
    await writeFile(file, der);
    const { stdout } = await run('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-issuer']);
    expect(stdout).toContain('acme');
    expect((await fetch(`${ca.service.url}/crl/${issuingAuthorityId('nobody')}.crl`)).status).toBe(404);
    expect((await fetch(`${ca.service.url}/crl/not-a-crl`)).status).toBe(404);
  });

  it('re-publishes a CRL past half its validity (once per CRL number), never a fresh one', () =>
    isolated(async ({ ca: own, store: ownStore }) => {
      await own.crls.ensurePublished((await own.authority.issuingFor('acme')).authorityId);
      await own.crls.ensurePublished((await own.authority.issuingFor('globex')).authorityId);
      const crlEvents = async () => {
        const found: { authorityId: string; crlNumber: number; revokedCount: number; thisUpdate: string }[] = [];
        await ownStore.replay(
          'ca',
          (r) => void (r.event.type === 'CrlPublished' && found.push(r.event.data as never)),
          {
            aggregate: 'crl',
          },
        );
        return found;
      };
      const before = await crlEvents();
      expect(before).toHaveLength(2);
      const latest = Math.max(...before.map((c) => Date.parse(c.thisUpdate)));
      expect(await own.crls.refreshDue(new Date(latest + 86_400_000))).toEqual([]);
      const later = new Date(latest + 4 * 86_400_000); // past half of the default 7-day validity
      const refreshed = await own.crls.refreshDue(later);
      expect(refreshed).toEqual(before.map((c) => c.authorityId));
      expect(await own.crls.refreshDue(later)).toEqual([]);
      const after = await crlEvents();
      expect(after).toHaveLength(before.length + refreshed.length);
      for (const authorityId of refreshed) {
        const published = after.filter((c) => c.authorityId === authorityId);
        expect(published.map((c) => c.crlNumber)).toEqual([1, 2]);
        expect(published.map((c) => c.revokedCount)).toEqual([0, 0]);
      }
    }));

  it("refuses a new owner's batch until the ceremony signs its issuing CA, then certifies it", () =>
    isolated(
      async (on) => {
        await on.registry.createBatch('initech-1', 'fridge-policy', 'initech');
        const newcomer = await device({ on, batchId: 'initech-1' });
        const certifyInitech = () =>
          commands.request(CertifyDevices.subject(on.namespace), {
            commandId: `certify-initech-${randomUUID()}`,
            scope: { kind: 'batch', batchId: 'initech-1' },
          });
        await expect(certifyInitech()).rejects.toThrow('no issuing CA for owner initech: run the ceremony');
        const authorityOf = () =>
          on.store.read({ context: 'ca', aggregate: 'authority', id: issuingAuthorityId('initech') });
        expect((await authorityOf()).events).toEqual([]);
        const ceremony = await inProcessCeremony({
          nats: nats.nc,
          namespace: on.namespace,
          serviceKek: await kekOf(),
          logger,
        }).catch((e: unknown) => e);
        // A second root is refused: the ceremony that made the root signs the newcomer's CA.
        expect(ceremony).toMatchObject({ reason: 'root-exists' });
        await on.ceremony.signIssuingCa('initech');
        await expect(certifyInitech()).resolves.toEqual({ devices: 1 });
        expect((await lastOf(newcomer, 'csr-request')).kind).toBe('csr-request');
        expect((await authorityOf()).events.map((r) => r.event.type)).toEqual(['AuthorityCreated']);
      },
      ['acme'],
    ));
});
