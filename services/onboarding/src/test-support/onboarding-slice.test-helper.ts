/**
 * Slice tests' fixture: the real OnboardingModule on an InMemoryEventStore, with in-memory doubles
 * of its other ports (targets, credentials, downlinks), and the registry and CA played by appending
 * their events (with real certificates: onboarding verifies them).
 */
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { Module, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  AuthorityCreated,
  BatchCreated,
  CertificateIssued,
  CertificateRevoked,
  CrlPublished,
  DeviceIdentityImported,
  RegisterTarget,
  RevocationRequested,
  ServerPolicyDefined,
  type CommandOf,
  type DataOf,
  type EventDefinition,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { generatePlatformKey } from '@tunnelkey/device-protocol';
import { Kek } from '@tunnelkey/pki';
import { InMemoryEventStore } from '@tunnelkey/eventstore';
import { PlatformModule } from '@tunnelkey/messaging';
import { givenEvent } from '@tunnelkey/testing';
import { pino } from 'pino';
import { onboardingConfigFromEnv, type OnboardingConfig } from '../config.js';
import { OnboardDevicesHandler } from '../onboard-devices/onboard-devices.handler.js';
import { OnboardingModule } from '../onboarding.module.js';
import { RegisterTargetHandler } from '../register-target/register-target.handler.js';
import { InMemoryTargetCredentialStore } from '../shared/target-credentials.js';
import { InMemoryTargetSecrets } from '../shared/target-secrets.js';
import { InMemoryTargetConnector } from '../target-port/in-memory-target.js';
import type { TopicRightSpec } from '../target-port/topic-plan.js';
import type { DownlinkSender } from '../tokens.js';
import {
  createTestAuthority,
  createTestRoot,
  issueTestCrl,
  issueTestDevice,
  type TestAuthority,
  type TestRoot,
} from './test-pki.test-helper.js';

export const now = new Date('2026-11-27T10:00:00.000Z');
/** A certificate the contracts accept that parses as nothing (a forged chain). */
export const chainOf = (authorityId: string) => [
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(authorityId).toString('base64')}\n-----END CERTIFICATE-----\n`,
];
/** The onboarding KEK of every slice (target CA keys are derived under it). */
const sliceKek = Kek.fromBytes(createHash('sha256').update('slice kek').digest());

/**
 * The slice's PKI: one root (pinned in the slice's config) and, per authority id, an issuing CA
 * under it made on first use, with real signed CRLs; valid around `now`. One per event store, so a
 * slice restarted on the same store trusts the same root.
 */
export class SlicePki {
  readonly #authorities = new Map<string, Promise<TestAuthority>>();
  readonly #crls = new Map<string, Promise<string>>();

  constructor(readonly root: TestRoot) {}

  static async create(): Promise<SlicePki> {
    return new SlicePki(await createTestRoot('slice', now));
  }

  /** What TRUSTED_ROOT_SHA256 pins. */
  get rootSha256(): string {
    return this.root.root.fingerprintSha256;
  }

  authority(authorityId: string): Promise<TestAuthority> {
    let authority = this.#authorities.get(authorityId);
    if (!authority) {
      authority = createTestAuthority(authorityId, { root: this.root, at: now, authorityId });
      this.#authorities.set(authorityId, authority);
    }
    return authority;
  }

  /** CRL `crlNumber` of the authority, signed by it: the same bytes every time it is asked for. */
  crlPem(authorityId: string, crlNumber: number): Promise<string> {
    const key = `${authorityId}/${crlNumber}`;
    let pem = this.#crls.get(key);
    if (!pem) {
      pem = this.authority(authorityId).then(async (a) => (await issueTestCrl(a, [], { crlNumber })).crlPem);
      this.#crls.set(key, pem);
    }
    return pem;
  }
}

const slicePkis = new WeakMap<InMemoryEventStore, SlicePki>();
export const rights: TopicRightSpec[] = [
  { topic: 'fridges/{deviceId}/telemetry', access: 'publish' },
  { topic: 'fridges/{deviceId}/commands/#', access: 'subscribe' },
];

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface SentDownlink {
  kind: string;
  deviceId: string;
  body: Record<string, unknown>;
}

export interface OnboardingSlice {
  app: INestApplicationContext;
  store: InMemoryEventStore;
  targets: InMemoryTargetConnector;
  credentials: InMemoryTargetCredentialStore;
  /** The mounted secrets: `broker-admin` holds `secret-admin-password` (what registerTarget names). */
  secrets: InMemoryTargetSecrets;
  downlinks: SentDownlink[];
  /** The registry and the CA, by their events. */
  given: PlatformEvents;
  /** The root the slice pins and its issuing CAs. */
  pki: SlicePki;
  get<T>(type: Type<T>): T;
  /** Onboarding's events, in log order, optionally of one type. */
  events(type?: string): Promise<EventEnvelope[]>;
  /** RegisterTarget through its handler (the in-memory target accepts it). */
  registerTarget(targetId: string, overrides?: Partial<CommandOf<typeof RegisterTarget>>): Promise<unknown>;
  /**
   * What most slices start from: policy `p-1` for `targetIds`, batch `b-1` of `deviceIds`, each
   * device certified (then the CA's CRL `crl`, when given), each target registered, and the batch
   * onboarded (`onboard-1`) to the end.
   */
  onboardedBatch(given: OnboardedBatch): Promise<void>;
  close(): Promise<void>;
}

export interface OnboardedBatch {
  targetIds: string[];
  deviceIds: string[];
  crl?: number;
}

export interface SliceOptions {
  config?: Partial<OnboardingConfig>;
  /** A store with history (a restart). */
  store?: InMemoryEventStore;
  credentials?: InMemoryTargetCredentialStore;
  secrets?: InMemoryTargetSecrets;
}

export async function startOnboardingSlice(options: SliceOptions = {}): Promise<OnboardingSlice> {
  const store =
    options.store ?? new InMemoryEventStore({ retryBackoffMs: [10, 50], logger: pino({ level: 'silent' }) });
  const targets = new InMemoryTargetConnector();
  const credentials = options.credentials ?? new InMemoryTargetCredentialStore();
  const secrets = options.secrets ?? new InMemoryTargetSecrets({ 'broker-admin': 'secret-admin-password' });
  const downlinks: SentDownlink[] = [];
  let pki = slicePkis.get(store);
  if (!pki) slicePkis.set(store, (pki = await SlicePki.create()));
  const downlinkSender: DownlinkSender = {
    async send(definition, deviceId, body) {
      downlinks.push({ kind: definition.kind, deviceId, body: body as Record<string, unknown> });
    },
  };
  const config = { ...onboardingConfigFromEnv({}), trustedRootSha256: pki.rootSha256, ...options.config };
  @Module({
    imports: [
      // No NATS here: nothing in onboarding uses the connection when downlinks are given.
      PlatformModule.forRoot({ service: 'onboarding', nats: {} as NatsConnection, eventStore: store }),
      OnboardingModule.forRoot({
        config,
        platformKey: (await generatePlatformKey()).key,
        kek: await sliceKek,
        logger: pino({ level: 'silent' }),
        clock: () => now,
        credentials,
        secrets,
        serverCaPem: () => 'server-ca',
        targetConnector: targets,
        downlinks: downlinkSender,
      }),
    ],
  })
  class SliceRoot {}
  const app = await NestFactory.createApplicationContext(SliceRoot, { logger: false });
  app.enableShutdownHooks();
  const events = async (type?: string) => {
    const all: EventEnvelope[] = [];
    await store.replay('onboarding', (recorded) => void all.push(recorded.event));
    return type ? all.filter((e) => e.type === type) : all;
  };
  const given = new PlatformEvents(store, pki);
  const registerTarget: OnboardingSlice['registerTarget'] = (targetId, overrides = {}) =>
    app.get(RegisterTargetHandler).handle({
      commandId: `register-${targetId}`,
      targetId,
      kind: 'mosquitto',
      name: `broker ${targetId}`,
      host: `${targetId}.local`,
      tlsPort: 8883,
      admin: { username: 'admin', passwordFile: 'broker-admin' },
      ...overrides,
    });
  return {
    app,
    store,
    targets,
    credentials,
    secrets,
    downlinks,
    given,
    pki,
    get: (type) => app.get(type),
    events,
    registerTarget,
    async onboardedBatch({ targetIds, deviceIds, crl }) {
      await given.policy('p-1', targetIds);
      await given.batch('b-1', 'p-1', deviceIds);
      for (const deviceId of deviceIds) await given.certified(deviceId);
      if (crl !== undefined) await given.crl(crl);
      for (const targetId of targetIds) await registerTarget(targetId);
      await (
        await app.get(OnboardDevicesHandler).onboardBatch({ commandId: 'onboard-1', batchId: 'b-1' })
      ).done;
    },
    close: () => app.close(),
  };
}

/** The registry's and the CA's events, appended as those services would. */
export class PlatformEvents {
  constructor(
    private readonly store: InMemoryEventStore,
    private readonly pki: SlicePki,
  ) {}

  #append<E extends EventDefinition>(definition: E, aggregateId: string, data: DataOf<E>) {
    return givenEvent(this.store, definition, aggregateId, data, { occurredAt: now });
  }

  policy(policyId: string, targetIds: string[], topicRights: TopicRightSpec[] = rights) {
    const data = {
      policyId,
      name: `policy ${policyId}`,
      targetIds,
      topicRights,
      certificateLifetimeDays: 365,
      ownerId: 'acme',
    };
    return this.#append(ServerPolicyDefined, policyId, data);
  }

  batch(batchId: string, policyId: string, deviceIds: string[]) {
    return this.#append(BatchCreated, batchId, {
      batchId,
      name: `batch ${batchId}`,
      policyId,
      ownerId: 'acme',
      expectedSize: deviceIds.length,
    }).then(() => Promise.all(deviceIds.map((deviceId) => this.imported(deviceId, batchId))));
  }

  imported(deviceId: string, batchId: string) {
    const key = Buffer.from(`spki-${deviceId}`).toString('base64');
    const data = {
      deviceId,
      batchId,
      importId: 'import-1',
      source: 'json' as const,
      enrolmentPublicKey: key,
      enrolmentKeyDigest: sha256(key),
    };
    return this.#append(DeviceIdentityImported, deviceId, data);
  }

  /** The CA's AuthorityCreated of an issuing CA (its own certificate, or `certificatePem`). */
  async authorityCreated(authorityId = 'issuing-acme', certificatePem?: string) {
    const authority = await this.pki.authority(authorityId);
    return this.#append(AuthorityCreated, authorityId, {
      authorityId,
      role: 'issuing',
      ownerId: 'acme',
      parentAuthorityId: 'root',
      subject: `CN=${authorityId} issuing CA`,
      serialNumber: authority.issuing.serialHex.toLowerCase(),
      notBefore: now.toISOString(),
      notAfter: '2030-11-27T10:00:00.000Z',
      keyAlgorithm: 'ECDSA-P256',
      fingerprintSha256: authority.issuing.fingerprintSha256,
      certificatePem: certificatePem ?? authority.issuing.pem,
    });
  }

  /**
   * A certificate of `authorityId` (a real one, for a key made here), carrying that authority's
   * chain (or `chainPem`: a forged one).
   */
  async certified(deviceId: string, authorityId = 'issuing-acme', serialNumber?: string, chainPem?: string[]) {
    const authority = await this.pki.authority(authorityId);
    return this.#issued(authority, deviceId, authorityId, chainPem ?? authority.chainPem, serialNumber);
  }

  /** A certificate `issuer` signed, announced as one of `authorityId` with that authority's real chain (a forgery). */
  async certifiedBy(issuer: TestAuthority, deviceId: string, authorityId: string) {
    return this.#issued(issuer, deviceId, authorityId, (await this.pki.authority(authorityId)).chainPem);
  }

  async #issued(issuer: TestAuthority, deviceId: string, authorityId: string, chain: string[], serialNumber?: string) {
    const leaf = await issueTestDevice(issuer, deviceId, { at: now });
    return this.#append(CertificateIssued, deviceId, {
      deviceId,
      requestId: `r-${deviceId}`,
      authorityId,
      serialNumber: serialNumber ?? leaf.serialHex.toLowerCase(),
      subject: `CN=${deviceId}`,
      issuer: 'CN=acme issuing CA',
      notBefore: now.toISOString(),
      notAfter: '2027-11-27T10:00:00.000Z',
      fingerprintSha256: sha256(`cert-${deviceId}`),
      publicKeyDigest: sha256(`key-${deviceId}`),
      keyId: 'tls-0',
      certificatePem: leaf.certificatePem,
      chainPem: chain,
    });
  }

  async revoked(deviceId: string, revocationId: string, authorityId = 'issuing-acme') {
    const issued = await this.#certificateOf(deviceId);
    const data = {
      deviceId,
      authorityId,
      serialNumber: issued,
      reason: 'keyCompromise' as const,
      revokedAt: now.toISOString(),
      revocationId,
    };
    return this.#append(CertificateRevoked, deviceId, data);
  }

  /** The revocation service's request: the saga starts (the CA has revoked nothing yet). */
  revocationRequested(revocationId: string, deviceIds: string[]) {
    const data = { revocationId, scope: 'device' as const, deviceIds, reason: 'keyCompromise' as const };
    return this.#append(RevocationRequested, revocationId, data);
  }

  /** Publishes CRL `crlNumber` of the authority (signed by it, or `crlPem`). */
  async crl(crlNumber: number, authorityId = 'issuing-acme', crlPem?: string) {
    crlPem ??= await this.pki.crlPem(authorityId, crlNumber);
    return this.#append(CrlPublished, authorityId, {
      authorityId,
      crlNumber,
      issuer: 'CN=acme issuing CA',
      thisUpdate: now.toISOString(),
      nextUpdate: '2026-11-28T10:00:00.000Z',
      url: `http://ca.local/crl/${authorityId}.crl`,
      revokedCount: 0,
      crlDigest: sha256(crlPem),
    });
  }

  async #certificateOf(deviceId: string): Promise<string> {
    let serial = '';
    await this.store.replay('ca', (recorded) => {
      if (CertificateIssued.is(recorded.event) && recorded.event.data.deviceId === deviceId)
        serial = recorded.event.data.serialNumber;
    });
    return serial;
  }
}
