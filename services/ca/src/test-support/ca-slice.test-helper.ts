/**
 * Test helper for slice tests: the CA's ports on the in-memory event store with in-memory doubles
 * (key store, CRL store, a downlink publisher that keeps what it sends), its views started on that
 * store, and devices with plain WebCrypto keys that the test registers by appending registry events.
 */
import { randomBytes } from 'node:crypto';
import { CsrMessage, type DeviceBodyOf, type DeviceEnvelope, type EventEnvelope } from '@tunnelkey/contracts';
import {
  DownlinkPublisher,
  EnvelopeSigner,
  generatePlatformKey,
  type CryptoKey,
  type PlatformKey,
} from '@tunnelkey/device-protocol';
import { InMemoryEventStore, type StreamRef } from '@tunnelkey/eventstore';
import { createCsr, generateP256KeyPair, Kek, WebCryptoSigner } from '@tunnelkey/pki';
import { identityFromPublicKey } from '@tunnelkey/puf';
import { pino } from 'pino';
import { CertificateAuthority } from '../authority/certificate-authority.js';
import { InMemoryCaKeyStore } from '../ca-key-store-port/ca-key-store.js';
import { CsrRequestsJob } from '../certify-devices/csr-requests.job.js';
import { caConfigFromEnv, type CaConfig } from '../config.js';
import { InMemoryCrlStore } from '../crl-store-port/crl-store.js';
import { inProcessCeremony, type InProcessCeremony } from '../ceremony/run-ceremony.js';
import { PublishCrlHandler } from '../publish-crl/publish-crl.handler.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';
import { PendingCsrRequestsView } from '../views/pending-csr-requests.view.js';
import { RevokedCertificatesView } from '../views/revoked-certificates.view.js';
import { RegistryFacts } from './registry-events.test-helper.js';

export const silent = pino({ level: 'silent' });

/** A device with a P-256 key pair: what it sends (CSRs, envelopes), not how it keeps its key. */
export class TestDevice {
  readonly #envelopes: EnvelopeSigner;

  private constructor(
    readonly deviceId: string,
    readonly signer: WebCryptoSigner,
    readonly privateKey: CryptoKey,
  ) {
    this.#envelopes = new EnvelopeSigner(deviceId, 0);
  }

  static async create(): Promise<TestDevice> {
    const pair = await generateP256KeyPair();
    const signer = await WebCryptoSigner.fromKeyPair(pair);
    return new TestDevice(identityFromPublicKey(signer.publicKeySpki), signer, pair.privateKey);
  }

  get publicKeySpki(): Uint8Array {
    return this.signer.publicKeySpki;
  }

  async csr(signer: WebCryptoSigner = this.signer): Promise<Uint8Array> {
    return (await createCsr({ subjectCommonName: this.deviceId, signer })).der;
  }

  /** A signed csr envelope as it arrives on the bus: its subject and bytes. */
  async csrMessage(
    body: DeviceBodyOf<typeof CsrMessage>,
    signWith: CryptoKey = this.privateKey,
    namespace = '',
  ): Promise<{ subject: string; data: Uint8Array }> {
    const envelope = await this.#envelopes.sign(CsrMessage, body, { keyId: 'enrolment', privateKey: signWith });
    return {
      subject: CsrMessage.subject(this.deviceId, namespace),
      data: new TextEncoder().encode(JSON.stringify(envelope)),
    };
  }
}

export interface Sent {
  subject: string;
  envelope: DeviceEnvelope;
}

export interface CaSlice {
  store: InMemoryEventStore;
  registry: RegistryFacts;
  config: CaConfig;
  clock: () => Date;
  keys: InMemoryCaKeyStore;
  crlStore: InMemoryCrlStore;
  platformKey: PlatformKey;
  authority: CertificateAuthority;
  downlinks: DownlinkPublisher;
  /** Every downlink sent, in order. */
  sent: Sent[];
  eligibility: DeviceEligibilityView;
  revoked: RevokedCertificatesView;
  pending: PendingCsrRequestsView;
  crls: PublishCrlHandler;
  /** CertifyDevices' window on these ports (stopped with the slice); the sweep runs only when called. */
  csrRequests(options?: CsrWindowOptions): CsrRequestsJob;
  /** The admin ceremony, run in process (root key in memory): signs more owners' issuing CAs. */
  ceremony: InProcessCeremony;
  /** A device the registry imported into `batchId` and (unless told otherwise) verified. */
  device(batchId: string, options?: { verified?: boolean }): Promise<TestDevice>;
  /** The events of one stream, in order. */
  events(stream: StreamRef): Promise<EventEnvelope[]>;
  /** Every event of an aggregate type in a context, in order. */
  all(context: StreamRef['context'], aggregate: string): Promise<EventEnvelope[]>;
  stop(): Promise<void>;
}

export interface CsrWindowOptions {
  window?: number;
  retrySeconds?: number;
  expirySeconds?: number;
  /** Default: the slice's clock (real time). */
  clock?: () => Date;
}

/**
 * The CA's ports on an InMemoryEventStore, with a policy `p` (365 days) and a batch `b` of owner
 * `acme`, after the ceremony created the root and signed the issuing CAs of `owners` (default: acme).
 */
export async function caSlice(options: { owners?: readonly string[] } = {}): Promise<CaSlice> {
  const store = new InMemoryEventStore({ logger: silent, retryBackoffMs: [10] });
  const registry = new RegistryFacts(store);
  await registry.definePolicy('p', 365);
  await registry.createBatch('b', 'p', 'acme');
  const config: CaConfig = { ...caConfigFromEnv({}), crlBaseUrl: 'http://ca.test/crl' };
  const clock = () => new Date();
  const keys = new InMemoryCaKeyStore();
  const crlStore = new InMemoryCrlStore();
  const platformKey = (await generatePlatformKey()).key;
  const kek = await Kek.fromBytes(new Uint8Array(randomBytes(32)));
  const ceremony = await inProcessCeremony({
    store,
    keys,
    serviceKek: kek,
    settings: config,
    owners: options.owners ?? ['acme'],
    logger: silent,
  });
  const authority = new CertificateAuthority({ store, keys, kek, settings: config, clock, logger: silent });
  const sent: Sent[] = [];
  const decoder = new TextDecoder();
  const downlinks = new DownlinkPublisher({
    platformKey,
    publish: (subject, data) =>
      void sent.push({ subject, envelope: JSON.parse(decoder.decode(data)) as DeviceEnvelope }),
    clock,
  });
  const eligibility = await DeviceEligibilityView.start(store, silent);
  const revoked = await RevokedCertificatesView.start(store, silent);
  const pending = await PendingCsrRequestsView.start(store, silent);
  const jobs: CsrRequestsJob[] = [];
  const crls = new PublishCrlHandler(store, authority, crlStore, revoked, config, clock, silent, undefined);
  return {
    store,
    registry,
    config,
    clock,
    keys,
    crlStore,
    platformKey,
    authority,
    downlinks,
    sent,
    eligibility,
    revoked,
    pending,
    crls,
    ceremony,
    csrRequests(options = {}) {
      const job = new CsrRequestsJob(
        store,
        pending,
        eligibility,
        downlinks,
        {
          csrWindow: options.window ?? config.csrWindow,
          csrRetrySeconds: options.retrySeconds ?? config.csrRetrySeconds,
          csrExpirySeconds: options.expirySeconds ?? config.csrExpirySeconds,
        },
        options.clock ?? clock,
        silent,
      );
      jobs.push(job);
      return job;
    },
    async device(batchId, options = {}) {
      const device = await TestDevice.create();
      await registry.importDevice(device.deviceId, batchId, device.publicKeySpki);
      if (options.verified !== false) await registry.verifyDevice(device.deviceId, device.publicKeySpki);
      return device;
    },
    events: async (stream) => (await store.read(stream)).events.map((r) => r.event),
    async all(context, aggregate) {
      const found: EventEnvelope[] = [];
      await store.replay(context, (r) => void found.push(r.event), { aggregate });
      return found;
    },
    async stop() {
      for (const job of jobs) await job.onModuleDestroy();
      await eligibility.stop();
      await revoked.stop();
      await pending.stop();
    },
  };
}
