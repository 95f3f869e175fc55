/**
 * Many CSRs at once over the bus, one CA instance: N devices (plain WebCrypto keys, so the device
 * side costs little) send a CSR each at the same moment; every one gets exactly one certificate.
 * It also prints the rate, from the first publish to the last certificate received: `npm run
 * bench:ca` runs it with CA_THROUGHPUT_DEVICES=1000 (default here 100, to keep `npm test` quick).
 * The rate is printed, never asserted.
 */
import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { CsrMessage, type DeviceEnvelope } from '@tunnelkey/contracts';
import { EnvelopeSigner, generatePlatformKey } from '@tunnelkey/device-protocol';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { createCsr, generateP256KeyPair, Kek, WebCryptoSigner } from '@tunnelkey/pki';
import { identityFromPublicKey } from '@tunnelkey/puf';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';
import { inProcessCeremony } from './ceremony/run-ceremony.js';
import { startCa, type RunningCa } from './start-ca.js';
import { RegistryFacts } from './test-support/registry-events.test-helper.js';

const N = Number(process.env.CA_THROUGHPUT_DEVICES ?? 100);
const nats = natsFixture();

describe(`CA under concurrent load (${N} CSRs at once)`, () => {
  let ca: RunningCa;
  let store: JetStreamEventStore;
  afterAll(async () => {
    await ca?.stop();
    store?.close();
    await nats.teardown();
  });

  it('issues every certificate, once', async () => {
    await nats.setup();
    const namespace = nats.namespace;
    store = new JetStreamEventStore(nats.nc, { namespace });
    await store.ensureStreams(['registry', 'ca']);
    const registry = new RegistryFacts(store);
    await registry.definePolicy('p', 365);
    await registry.createBatch('b', 'p', 'acme', N);
    const devices = await Promise.all(
      Array.from({ length: N }, async () => {
        const pair = await generateP256KeyPair();
        const signer = await WebCryptoSigner.fromKeyPair(pair);
        return { deviceId: identityFromPublicKey(signer.publicKeySpki), signer, pair };
      }),
    );
    for (const d of devices) {
      await registry.importDevice(d.deviceId, 'b', d.signer.publicKeySpki);
      await registry.verifyDevice(d.deviceId, d.signer.publicKeySpki);
    }
    const platformKey = (await generatePlatformKey()).key;
    const kek = await Kek.fromBytes(new Uint8Array(randomBytes(32)));
    // The admin ceremony (root key in memory) signs acme's issuing CA: the CA creates none itself.
    await inProcessCeremony({
      nats: nats.nc,
      namespace,
      serviceKek: kek,
      owners: ['acme'],
      logger: pino({ level: 'warn' }),
    });
    const rebuildStarted = performance.now();
    ca = await startCa({
      nats: nats.nc,
      namespace,
      kek,
      platformKey,
      config: { instanceId: 'bench', httpPort: 0 },
      logger: pino({ level: 'warn' }),
    });
    const rebuildMs = performance.now() - rebuildStarted;
    const messages = await Promise.all(
      devices.map(async (d) => {
        const csr = (await createCsr({ subjectCommonName: d.deviceId, signer: d.signer })).der;
        const envelope = await new EnvelopeSigner(d.deviceId, 0).sign(
          CsrMessage,
          { requestId: `r-${d.deviceId.slice(2, 20)}`, keyId: 'enrolment', csr: Buffer.from(csr).toString('base64') },
          { keyId: 'enrolment', privateKey: d.pair.privateKey },
        );
        return { subject: CsrMessage.subject(d.deviceId, namespace), data: JSON.stringify(envelope) };
      }),
    );
    const certificates = new Set<string>();
    const inbox = nats.nc.subscribe(`${namespace}.dev.*.inbox.certificate`, {
      callback: (_e, msg) => void certificates.add(msg.json<DeviceEnvelope>().deviceId),
    });
    await nats.nc.flush();
    const started = performance.now();
    for (const m of messages) nats.nc.publish(m.subject, m.data);
    await waitFor(() => certificates.size >= N, {
      timeoutMs: 120_000,
      intervalMs: 20,
      description: `${N} certificates`,
    });
    const seconds = (performance.now() - started) / 1000;
    inbox.unsubscribe();
    process.stdout.write(
      `CA throughput: ${N} certificates in ${seconds.toFixed(2)} s = ${(N / seconds).toFixed(0)} certificates/s ` +
        `(projection of ${2 * N + 2} registry events rebuilt, CA started in ${rebuildMs.toFixed(0)} ms)\n`,
    );
    const digest = createHash('sha256');
    let issued = 0;
    await store.replay(
      'ca',
      (r) => {
        if (r.event.type === 'CertificateIssued') issued++;
        digest.update(r.event.id);
      },
      { aggregate: 'device' },
    );
    expect(issued).toBe(N);
  }, 180_000);
});
