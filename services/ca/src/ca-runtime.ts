/**
 * The composition root of the CA, free of Nest: event store, key store, hierarchy, eligibility
 * projection, issuance pipeline and CSR intake, started in order and stopped in reverse.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { type EventStore } from '@tunnelkey/eventstore';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { DownlinkPublisher, type PlatformKey } from '@tunnelkey/device-protocol';
import type { Kek } from '@tunnelkey/pki';
import { pino, type Logger } from 'pino';
import { CertificateAuthority } from './authority/certificate-authority.js';
import type { CaKeyStore } from './authority/ca-key-store.js';
import { KvCaKeyStore } from './authority/kv-ca-key-store.js';
import { CertificateIssuance, type IssuanceOutcome } from './certificate-issuance/certificate-issuance.js';
import { CsrIntake } from './certificate-issuance/csr-intake.js';
import { certifyDevices } from './certify-devices/certify-devices.js';
import type { CaConfig } from './config.js';
import { DeviceEligibility } from './device-eligibility/device-eligibility.js';
import { CrlPublisher } from './crl-publication/crl-publisher.js';
import { ObjectStoreCrlStore, type CrlStore } from './crl-publication/crl-store.js';
import { CertificateRevocation } from './revoke-certificates/certificate-revocation.js';

import type { CertifyDevices, CommandOf, ResultOf } from '@tunnelkey/contracts';

export interface CaRuntimeOptions {
  nats: NatsConnection;
  config: CaConfig;
  kek: Kek;
  platformKey: PlatformKey;
  /** Defaults: JetStream event store and KV key store in the config's namespace. */
  store?: EventStore;
  keyStore?: CaKeyStore;
  /** Default: the JetStream object store of the namespace. */
  crlStore?: CrlStore;
  clock?: () => Date;
  logger?: Logger;
  onOutcome?: (outcome: IssuanceOutcome, ms: number) => void;
}

export class CaRuntime {
  private constructor(
    readonly config: CaConfig,
    readonly store: EventStore,
    readonly keyStore: CaKeyStore,
    readonly authority: CertificateAuthority,
    readonly eligibility: DeviceEligibility,
    readonly issuance: CertificateIssuance,
    readonly intake: CsrIntake,
    readonly downlinks: DownlinkPublisher,
    readonly crls: CrlPublisher,
    readonly revocation: CertificateRevocation,
    private readonly crlRefresh: NodeJS.Timeout,
    private readonly logger: Logger,
    private readonly ownsStore: boolean,
  ) {}

  static async start(options: CaRuntimeOptions): Promise<CaRuntime> {
    const { nats, config, kek, platformKey } = options;
    const logger = options.logger ?? pino({ name: 'ca' });
    const ownsStore = !options.store;
    const store = options.store ?? new JetStreamEventStore(nats, { namespace: config.namespace, logger });
    // Same stream configuration every service applies; the CA replays the registry's stream, so it must exist.
    if (store instanceof JetStreamEventStore) await store.ensureStreams(['ca', 'registry', 'revocation']);
    const keyStore = options.keyStore ?? (await KvCaKeyStore.open(nats, config.namespace));
    const authority = new CertificateAuthority({ store, keys: keyStore, kek, settings: config, logger, ...(options.clock ? { clock: options.clock } : {}) });
    const eligibility = await DeviceEligibility.start({ store, logger });
    await authority.root();
    for (const ownerId of eligibility.owners()) await authority.issuingFor(ownerId);
    const issuance = new CertificateIssuance({ store, authority, eligibility, logger });
    const downlinks = new DownlinkPublisher({ platformKey, publish: (subject, data) => nats.publish(subject, data), namespace: config.namespace, ...(options.clock ? { clock: options.clock } : {}) });
    const intake = new CsrIntake({
      nc: nats,
      namespace: config.namespace,
      eligibility,
      issuance,
      downlinks,
      maxConcurrent: config.maxConcurrentIssuance,
      logger,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
    });
    intake.start();
    const clock = options.clock ?? (() => new Date());
    const crlStore = options.crlStore ?? (await ObjectStoreCrlStore.open(nats, config.namespace));
    const snapshots = { store: await store.snapshotStore(), every: 20 };
    const crls = await CrlPublisher.start({ store, authority, crls: crlStore, crlValidityHours: config.crlValidityHours ?? 168, clock, logger, snapshots });
    for (const ownerId of eligibility.owners()) await crls.ensurePublished((await authority.issuingFor(ownerId)).authorityId);
    const revocation = await CertificateRevocation.start({ store, publisher: crls, eligibility, clock, logger });
    // CRLs are refreshed at half their validity; checking every 10 minutes is plenty for a 7-day CRL.
    const crlRefresh = setInterval(() => {
      crls.refreshDue().catch((error: unknown) => logger.warn({ event: 'ca.crl_refresh_failed', error: error instanceof Error ? error.name : 'unknown' }, 'CRL refresh failed; retried at the next check'));
    }, config.crlRefreshCheckMs ?? 600_000);
    crlRefresh.unref();
    await nats.flush();
    logger.info({ event: 'ca.started', namespace: config.namespace, instanceId: config.instanceId }, 'CA started');
    return new CaRuntime(config, store, keyStore, authority, eligibility, issuance, intake, downlinks, crls, revocation, crlRefresh, logger, ownsStore);
  }

  get ready(): boolean {
    return this.eligibility.ready;
  }

  certifyDevices(command: CommandOf<typeof CertifyDevices>): Promise<ResultOf<typeof CertifyDevices>> {
    return certifyDevices({ eligibility: this.eligibility, authority: this.authority, crls: this.crls, downlinks: this.downlinks, logger: this.logger }, command);
  }

  async stop(): Promise<void> {
    clearInterval(this.crlRefresh);
    await this.revocation.stop();
    await this.intake.stop();
    await this.crls.stop();
    await this.eligibility.stop();
    if (this.ownsStore && this.store instanceof JetStreamEventStore) this.store.close();
  }
}
