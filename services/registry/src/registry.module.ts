import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import { AnnounceHandler } from './announce-device/announce.handler.js';
import { CreateBatchMsController } from './create-batch/create-batch-ms.controller.js';
import { CreateBatchHandler } from './create-batch/create-batch.handler.js';
import { DefineServerPolicyMsController } from './define-server-policy/define-server-policy-ms.controller.js';
import { DefineServerPolicyHandler } from './define-server-policy/define-server-policy.handler.js';
import { DeviceUplinkListener } from './device-uplinks/device-uplink.listener.js';
import { UplinkKeyResolver } from './device-uplinks/uplink-key-resolver.js';
import { ImportIdentitiesMsController } from './import-identities/import-identities-ms.controller.js';
import { ImportIdentitiesHandler } from './import-identities/import-identities.handler.js';
import { RegistryQueriesMsController } from './read-model/registry-queries-ms.controller.js';
import { RegistryReadModel } from './read-model/registry-read-model.js';
import { CertificateIssuedSubscriber } from './record-certificate/certificate-issued.subscriber.js';
import { RevocationStepsSubscriber } from './revoke-device/revocation-steps.subscriber.js';
import { EnrolmentKeyReportHandler } from './request-enrolment-keys/enrolment-key-report.handler.js';
import { RequestEnrolmentKeysMsController } from './request-enrolment-keys/request-enrolment-keys-ms.controller.js';
import { RequestEnrolmentKeysHandler } from './request-enrolment-keys/request-enrolment-keys.handler.js';
import { BatchAdmission } from './shared/batch-admission.js';
import { DownlinkSender } from './shared/downlink-sender.js';
import { RegistryAggregates } from './shared/registry-aggregates.js';
import { RegistryMetrics } from './shared/registry-metrics.js';
import { REGISTRY_EVENT_STORE, REGISTRY_RUNTIME, type RegistryRuntime } from './shared/registry-runtime.js';
import { VerifyIdentityMsController } from './verify-identity/verify-identity-ms.controller.js';
import { VerifyIdentityHandler } from './verify-identity/verify-identity.handler.js';
import { IdentityResponseHandler } from './verify-identity/identity-response.handler.js';
import { UnansweredChallengesSweeper } from './verify-identity/unanswered-challenges.sweeper.js';

/** Stops the event store's publish pipeline after every consumer of it has stopped. */
class EventStoreCloser implements OnApplicationShutdown {
  constructor(@Inject(REGISTRY_EVENT_STORE) private readonly store: JetStreamEventStore) {}
  onApplicationShutdown(): void {
    this.store.close();
  }
}

/**
 * The registry: server policies, batches and device identities (Announced -> Imported -> Verified
 * -> Certified). Import it into a service root that provides NATS_CONNECTION (startService does).
 */
@Module({})
export class RegistryModule {
  static forRoot(runtime: RegistryRuntime): DynamicModule {
    return {
      module: RegistryModule,
      controllers: [
        DefineServerPolicyMsController,
        CreateBatchMsController,
        ImportIdentitiesMsController,
        RequestEnrolmentKeysMsController,
        VerifyIdentityMsController,
        RegistryQueriesMsController,
      ],
      providers: [
        { provide: REGISTRY_RUNTIME, useValue: runtime },
        {
          provide: REGISTRY_EVENT_STORE,
          inject: [NATS_CONNECTION],
          useFactory: async (nats: NatsConnection) => {
            const store = new JetStreamEventStore(nats, { namespace: runtime.namespace, logger: runtime.logger });
            await store.ensureStreams(['registry']);
            return store;
          },
        },
        EventStoreCloser,
        RegistryAggregates,
        RegistryReadModel,
        RegistryMetrics,
        DownlinkSender,
        BatchAdmission,
        UplinkKeyResolver,
        DefineServerPolicyHandler,
        CreateBatchHandler,
        ImportIdentitiesHandler,
        RequestEnrolmentKeysHandler,
        VerifyIdentityHandler,
        IdentityResponseHandler,
        EnrolmentKeyReportHandler,
        AnnounceHandler,
        DeviceUplinkListener,
        CertificateIssuedSubscriber,
        RevocationStepsSubscriber,
        UnansweredChallengesSweeper,
      ],
      exports: [RegistryReadModel, CertificateIssuedSubscriber, RevocationStepsSubscriber, UnansweredChallengesSweeper, REGISTRY_EVENT_STORE],
    };
  }
}
