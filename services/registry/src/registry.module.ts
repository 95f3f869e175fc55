import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { PlatformKey } from '@tunnelkey/device-protocol';
import type { Logger } from 'pino';
import { AnnounceHandler } from './announce-device/announce.handler.js';
import type { RegistryConfig } from './config.js';
import { CreateBatchHandler } from './create-batch/create-batch.handler.js';
import { CreateBatchMsController } from './create-batch/create-batch.ms-controller.js';
import { DecideHeldEnrolmentsHandler } from './decide-held-enrolments/decide-held-enrolments.handler.js';
import { DecideHeldEnrolmentsMsController } from './decide-held-enrolments/decide-held-enrolments.ms-controller.js';
import { DefineServerPolicyHandler } from './define-server-policy/define-server-policy.handler.js';
import { DefineServerPolicyMsController } from './define-server-policy/define-server-policy.ms-controller.js';
import { SetRenewalPolicyHandler } from './set-renewal-policy/set-renewal-policy.handler.js';
import { SetRenewalPolicyMsController } from './set-renewal-policy/set-renewal-policy.ms-controller.js';
import { SetIntegrityPolicyHandler } from './set-integrity-policy/set-integrity-policy.handler.js';
import { SetIntegrityPolicyMsController } from './set-integrity-policy/set-integrity-policy.ms-controller.js';
import { ReleaseQuarantineHandler } from './release-quarantine/release-quarantine.handler.js';
import { ReleaseQuarantineMsController } from './release-quarantine/release-quarantine.ms-controller.js';
import { HeartbeatHandler } from './monitor-integrity/heartbeat.handler.js';
import { HeartbeatLedger } from './monitor-integrity/heartbeat-ledger.js';
import { HeartbeatUplinkController } from './monitor-integrity/heartbeat.uplink-controller.js';
import { RecordViolation } from './monitor-integrity/record-violation.js';
import { SilentDevicesJob } from './monitor-integrity/silent-devices.job.js';
import { IntegrityView } from './views/integrity.view.js';
import { IntegrityQueriesHandler } from './query-integrity/integrity-queries.handler.js';
import { IntegrityQueriesMsController } from './query-integrity/integrity-queries.ms-controller.js';
import { DeviceUplinksController } from './device-uplinks/device-uplinks.uplink-controller.js';
import { UplinkKeyResolver } from './device-uplinks/uplink-key-resolver.js';
import type { Downlinks } from './downlink-port/downlinks.js';
import { ImportIdentitiesHandler } from './import-identities/import-identities.handler.js';
import { ImportIdentitiesMsController } from './import-identities/import-identities.ms-controller.js';
import { NatsDownlinks } from './nats-downlinks/nats-downlinks.js';
import { RecordCertificatesJob } from './record-certificate/record-certificates.job.js';
import { RecordCertificateHandler } from './record-certificate/record-certificate.handler.js';
import { RegisterManufacturerKeyHandler } from './register-manufacturer-key/register-manufacturer-key.handler.js';
import { RegisterManufacturerKeyMsController } from './register-manufacturer-key/register-manufacturer-key.ms-controller.js';
import { RegisterOwnerKeyHandler } from './register-owner-key/register-owner-key.handler.js';
import { RegisterOwnerKeyMsController } from './register-owner-key/register-owner-key.ms-controller.js';
import { TransferOwnershipHandler } from './transfer-ownership/transfer-ownership.handler.js';
import { TransferOwnershipMsController } from './transfer-ownership/transfer-ownership.ms-controller.js';
import { EnrolmentKeyReportHandler } from './request-enrolment-keys/enrolment-key-report.handler.js';
import { RequestEnrolmentKeysHandler } from './request-enrolment-keys/request-enrolment-keys.handler.js';
import { RequestEnrolmentKeysMsController } from './request-enrolment-keys/request-enrolment-keys.ms-controller.js';
import { RevocationStepsReaction } from './revoke-device/revocation-steps.reaction.js';
import { RevokeDevicesHandler } from './revoke-device/revoke-devices.handler.js';
import { AnnouncedDevices } from './shared/announced-devices.js';
import { BatchAdmission } from './shared/batch-admission.js';
import { systemClock, type Clock } from './shared/clock.js';
import { DeviceStateCache } from './shared/device-state-cache.js';
import { RegistryMetrics } from './shared/registry-metrics.js';
import { RegistryStreams } from './shared/registry-streams.js';
import { DOWNLINKS, PLATFORM_KEY, REGISTRY_CLOCK, REGISTRY_CONFIG, REGISTRY_LOGGER } from './tokens.js';
import { IdentityChallengesJob } from './verify-identity/identity-challenges.job.js';
import { IdentityResponseHandler } from './verify-identity/identity-response.handler.js';
import { UnansweredChallengesJob } from './verify-identity/unanswered-challenges.job.js';
import { VerifyIdentityHandler } from './verify-identity/verify-identity.handler.js';
import { VerifyIdentityMsController } from './verify-identity/verify-identity.ms-controller.js';
import { BatchSummaryView } from './views/batch-summary.view.js';
import { DeviceByIdView } from './views/device-by-id.view.js';
import { EnrolmentKeyRequestsView } from './views/enrolment-key-requests.view.js';
import { QueuedChallengesView } from './views/queued-challenges.view.js';
import { UnrecordedCertificatesView } from './views/unrecorded-certificates.view.js';
import { RegistryQueriesMsController } from './views/registry-queries.ms-controller.js';

export interface RegistryModuleOptions {
  config: RegistryConfig;
  /** Signs every platform -> device message (NatsDownlinks). */
  platformKey: PlatformKey;
  logger: Logger;
  clock?: Clock;
  /** Another Downlinks adapter than NATS (tests). */
  downlinks?: Downlinks;
}

/**
 * The registry: server policies, batches and device identities (Announced -> Imported -> Verified
 * -> Certified). Import it into a root that provides the platform (startService does): EVENT_STORE,
 * NATS_CONNECTION, READINESS_CHECKS, METRICS_REGISTRY.
 */
@Module({})
export class RegistryModule {
  static forRoot(options: RegistryModuleOptions): DynamicModule {
    const ports: Provider[] = [
      { provide: REGISTRY_CONFIG, useValue: options.config },
      { provide: REGISTRY_LOGGER, useValue: options.logger },
      { provide: REGISTRY_CLOCK, useValue: options.clock ?? systemClock },
      { provide: PLATFORM_KEY, useValue: options.platformKey },
      options.downlinks
        ? { provide: DOWNLINKS, useValue: options.downlinks }
        : { provide: DOWNLINKS, useClass: NatsDownlinks },
    ];
    const views = [
      DeviceByIdView,
      BatchSummaryView,
      EnrolmentKeyRequestsView,
      IntegrityView,
      QueuedChallengesView,
      UnrecordedCertificatesView,
    ];
    return {
      module: RegistryModule,
      controllers: [
        DefineServerPolicyMsController,
        SetRenewalPolicyMsController,
        SetIntegrityPolicyMsController,
        ReleaseQuarantineMsController,
        IntegrityQueriesMsController,
        CreateBatchMsController,
        ImportIdentitiesMsController,
        RequestEnrolmentKeysMsController,
        RegisterManufacturerKeyMsController,
        RegisterOwnerKeyMsController,
        TransferOwnershipMsController,
        DecideHeldEnrolmentsMsController,
        VerifyIdentityMsController,
        RegistryQueriesMsController,
      ],
      providers: [
        ...ports,
        RegistryStreams,
        RegistryMetrics,
        ...views,
        DeviceStateCache,
        BatchAdmission,
        AnnouncedDevices,
        UplinkKeyResolver,
        DefineServerPolicyHandler,
        SetRenewalPolicyHandler,
        SetIntegrityPolicyHandler,
        ReleaseQuarantineHandler,
        IntegrityQueriesHandler,
        HeartbeatLedger,
        RecordViolation,
        HeartbeatHandler,
        HeartbeatUplinkController,
        SilentDevicesJob,
        CreateBatchHandler,
        ImportIdentitiesHandler,
        RequestEnrolmentKeysHandler,
        RegisterManufacturerKeyHandler,
        RegisterOwnerKeyHandler,
        TransferOwnershipHandler,
        DecideHeldEnrolmentsHandler,
        VerifyIdentityHandler,
        IdentityResponseHandler,
        EnrolmentKeyReportHandler,
        AnnounceHandler,
        RecordCertificateHandler,
        RevokeDevicesHandler,
        DeviceUplinksController,
        RecordCertificatesJob,
        RevocationStepsReaction,
        UnansweredChallengesJob,
        IdentityChallengesJob,
      ],
      exports: [
        ...views,
        RecordCertificatesJob,
        RevocationStepsReaction,
        UnansweredChallengesJob,
        IdentityChallengesJob,
        HeartbeatUplinkController,
        SilentDevicesJob,
      ],
    };
  }
}
