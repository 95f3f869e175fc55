/**
 * The CA's Nest module: binds its ports to adapters (JetStream KV and object store unless given),
 * starts its views, and lists its handlers, controllers, reaction and jobs. No logic here.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { DownlinkPublisher, type PlatformKey } from '@tunnelkey/device-protocol';
import type { EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE, JETSTREAM_REPLICAS, METRICS_REGISTRY, NATS_CONNECTION, viewProvider } from '@tunnelkey/messaging';
import type { Kek } from '@tunnelkey/pki';
import { pino, type Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { CertificateAuthority } from './authority/certificate-authority.js';
import type { CaKeyStore } from './ca-key-store-port/ca-key-store.js';
import { CertifyDevicesHandler } from './certify-devices/certify-devices.handler.js';
import { CertifyDevicesMsController } from './certify-devices/certify-devices.ms-controller.js';
import { CsrRequestsJob } from './certify-devices/csr-requests.job.js';
import type { CaConfig } from './config.js';
import { ensureAuthoritiesAtStart } from './create-issuing-authority/authorities-at-start.js';
import { CreateIssuingAuthorityHandler } from './create-issuing-authority/create-issuing-authority.handler.js';
import { CreateIssuingAuthorityMsController } from './create-issuing-authority/create-issuing-authority.ms-controller.js';
import { LatestCrlCache, type CrlStore } from './crl-store-port/crl-store.js';
import { CsrUplinkController, type IssuanceMetrics } from './issue-certificate/csr.uplink-controller.js';
import { IssueCertificateHandler } from './issue-certificate/issue-certificate.handler.js';
import { KvCaKeyStore } from './jetstream/kv-ca-key-store.js';
import { ObjectStoreCrlStore } from './jetstream/object-store-crl-store.js';
import { CrlRefreshJob } from './publish-crl/crl-refresh.job.js';
import { PublishCrlHandler } from './publish-crl/publish-crl.handler.js';
import { CertificateSwitchedUplinkController } from './renew-certificates/certificate-switched.uplink-controller.js';
import { RenewCertificatesHandler } from './renew-certificates/renew-certificates.handler.js';
import { RenewCertificatesMsController } from './renew-certificates/renew-certificates.ms-controller.js';
import { RenewalRecorder } from './renew-certificates/renewal-recorder.js';
import { RenewalsJob } from './renew-certificates/renewals.job.js';
import { RevocationRequestedReaction } from './revoke-certificates/revocation-requested.reaction.js';
import { RevokeCertificatesHandler } from './revoke-certificates/revoke-certificates.handler.js';
import { RevokeTransferredCertificatesHandler } from './revoke-transferred-certificates/revoke-transferred-certificates.handler.js';
import { TransferRevocationsJob } from './revoke-transferred-certificates/transfer-revocations.job.js';
import { CrlHttpController } from './serve-crl/crl.http-controller.js';
import { ServeCrlHandler } from './serve-crl/serve-crl.handler.js';
import {
  AUTHORITIES_READY,
  CA_CONFIG,
  CA_KEY_STORE,
  CA_LOGGER,
  CLOCK,
  CRL_SNAPSHOTS,
  CRL_STORE,
  DOWNLINKS,
  ISSUANCE_METRICS,
  type Clock,
} from './tokens.js';
import { DeviceEligibilityView } from './views/device-eligibility.view.js';
import { PendingCsrRequestsView } from './views/pending-csr-requests.view.js';
import { PendingRevocationRequestsView } from './views/pending-revocation-requests.view.js';
import { RenewalsView } from './views/renewals.view.js';
import { RevokedCertificatesView } from './views/revoked-certificates.view.js';
import { TransferRevocationsView } from './views/transfer-revocations.view.js';

/** Everything the CA needs besides what the platform module provides (NATS, the event store, metrics). */
export interface CaModuleOptions {
  config: CaConfig;
  kek: Kek;
  platformKey: PlatformKey;
  /** Default: the JetStream KV bucket of the namespace. */
  keyStore?: CaKeyStore;
  /** Default: the JetStream object store of the namespace. */
  crlStore?: CrlStore;
  clock?: Clock;
  logger?: Logger;
}

/** Resolved once the CA's streams exist: the views read them. */
const CA_STREAMS = Symbol('CA_STREAMS');

/** Views log under the CA's logger and start once the CA's streams exist. */
const viewDeps = { logger: CA_LOGGER, after: [CA_STREAMS] };

const issuanceMetrics = (metrics: Registry): IssuanceMetrics => {
  const outcomes = new Counter({
    name: 'ca_certificate_requests_total',
    help: 'CSRs handled, by outcome and reason',
    labelNames: ['outcome', 'reason'],
    registers: [metrics],
  });
  const latency = new Histogram({
    name: 'ca_issuance_seconds',
    help: 'CSR received to answer sent',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics],
  });
  return {
    observe(outcome, ms) {
      const issued = outcome.kind === 'issued';
      outcomes.inc({
        outcome: issued ? (outcome.reused ? 'reused' : 'issued') : outcome.kind,
        reason: issued ? '' : outcome.reason,
      });
      latency.observe(ms / 1000);
    },
  };
};

/** The CA service: `CaModule.forRoot(options)` inside startService({ service: 'ca', ... }). */
@Module({})
export class CaModule {
  static forRoot(options: CaModuleOptions): DynamicModule {
    const { config } = options;
    return {
      module: CaModule,
      controllers: [
        CertifyDevicesMsController,
        CreateIssuingAuthorityMsController,
        RenewCertificatesMsController,
        CrlHttpController,
      ],
      providers: [
        { provide: CA_CONFIG, useValue: config },
        { provide: CA_LOGGER, useValue: options.logger ?? pino({ name: 'ca', level: config.logLevel }) },
        { provide: CLOCK, useValue: options.clock ?? (() => new Date()) },
        // The CA replays the registry's and the revocation service's streams, so they must exist too.
        {
          provide: CA_STREAMS,
          inject: [EVENT_STORE],
          useFactory: (store: EventStore) => store.ensureStreams(['ca', 'registry', 'revocation']).then(() => true),
        },
        {
          provide: CA_KEY_STORE,
          inject: [NATS_CONNECTION, JETSTREAM_REPLICAS],
          useFactory: (nats: NatsConnection, replicas: number) =>
            options.keyStore ?? KvCaKeyStore.open(nats, config.namespace, { replicas }),
        },
        {
          provide: CRL_STORE,
          inject: [NATS_CONNECTION, JETSTREAM_REPLICAS],
          useFactory: async (nats: NatsConnection, replicas: number) =>
            new LatestCrlCache(
              options.crlStore ?? (await ObjectStoreCrlStore.open(nats, config.namespace, { replicas })),
            ),
        },
        {
          provide: CRL_SNAPSHOTS,
          inject: [EVENT_STORE],
          useFactory: async (store: EventStore) => ({ store: await store.snapshotStore(), every: 20 }),
        },
        {
          provide: DOWNLINKS,
          inject: [NATS_CONNECTION, CLOCK],
          useFactory: (nats: NatsConnection, clock: Clock) =>
            new DownlinkPublisher({
              platformKey: options.platformKey,
              publish: (subject, data) => nats.publish(subject, data),
              namespace: config.namespace,
              clock,
            }),
        },
        { provide: ISSUANCE_METRICS, inject: [METRICS_REGISTRY], useFactory: issuanceMetrics },
        {
          provide: CertificateAuthority,
          inject: [EVENT_STORE, CA_KEY_STORE, CLOCK, CA_LOGGER, CA_STREAMS],
          useFactory: (store: EventStore, keys: CaKeyStore, clock: Clock, logger: Logger) =>
            new CertificateAuthority({ store, keys, kek: options.kek, settings: config, clock, logger }),
        },
        viewProvider(DeviceEligibilityView, viewDeps),
        viewProvider(RevokedCertificatesView, viewDeps),
        viewProvider(PendingRevocationRequestsView, viewDeps),
        viewProvider(PendingCsrRequestsView, viewDeps),
        viewProvider(RenewalsView, viewDeps),
        viewProvider(TransferRevocationsView, viewDeps),
        {
          provide: AUTHORITIES_READY,
          inject: [CertificateAuthority, DeviceEligibilityView, PublishCrlHandler, CA_LOGGER],
          useFactory: ensureAuthoritiesAtStart,
        },
        IssueCertificateHandler,
        CsrUplinkController,
        CertifyDevicesHandler,
        CsrRequestsJob,
        CreateIssuingAuthorityHandler,
        PublishCrlHandler,
        ServeCrlHandler,
        RevokeCertificatesHandler,
        RevocationRequestedReaction,
        RevokeTransferredCertificatesHandler,
        TransferRevocationsJob,
        CrlRefreshJob,
        RenewalRecorder,
        RenewCertificatesHandler,
        RenewalsJob,
        CertificateSwitchedUplinkController,
      ],
    };
  }
}
