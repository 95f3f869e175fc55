/**
 * The onboarding service's Nest module: binds its ports to adapters (or to the doubles a test
 * passes) and lists its views, handlers, controllers, reaction and job. No logic.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { BrokerAgentClient } from '@tunnelkey/broker-link';
import type { BoundedContext } from '@tunnelkey/contracts';
import { DownlinkPublisher, type PlatformKey } from '@tunnelkey/device-protocol';
import type { Kek } from '@tunnelkey/pki';
import type { EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE, NATS_CONNECTION, viewProvider } from '@tunnelkey/messaging';
import { pino, type Logger } from 'pino';
import type { OnboardingConfig } from './config.js';
import { DeprovisionDevicesHandler } from './deprovision-devices/deprovision-devices.handler.js';
import { TransferDeprovisioningsJob } from './deprovision-devices/transfer-deprovisionings.job.js';
import { InstallTrustHandler } from './install-trust/install-trust.handler.js';
import { TargetCrlRefreshJob } from './install-trust/target-crl-refresh.job.js';
import { mosquittoConnector } from './mosquitto/mosquitto-connector.js';
import { OnboardDevicesMsController } from './onboard-devices/onboard-devices.ms-controller.js';
import { ConnectionParametersResendJob } from './onboard-devices/connection-parameters-resend.job.js';
import { OnboardDevicesHandler } from './onboard-devices/onboard-devices.handler.js';
import { RegisterTargetMsController } from './register-target/register-target.ms-controller.js';
import { RegisterTargetHandler } from './register-target/register-target.handler.js';
import { PublishedCrlsReaction } from './revoke-device/published-crls.reaction.js';
import { RevocationRequestsReaction } from './revoke-device/revocation-requests.reaction.js';
import { IntegrityDecisionsReaction } from './quarantine-devices/integrity-decisions.reaction.js';
import { QuarantineDevicesHandler } from './quarantine-devices/quarantine-devices.handler.js';
import { RenewTargetCertificatesHandler } from './renew-target-certificates/renew-target-certificates.handler.js';
import { RenewedCertificatesReaction } from './renew-target-certificates/renewed-certificates.reaction.js';
import { RevokeDeviceHandler } from './revoke-device/revoke-device.handler.js';
import { DeviceWriter } from './shared/device-writer.js';
import { InMemoryTargetCredentialStore, type TargetCredentialStore } from './shared/target-credentials.js';
import { FileTargetSecrets, type TargetSecrets } from './shared/target-secrets.js';
import { TargetWriter } from './shared/target-writer.js';
import { TargetAuthorities } from './target-authority/target-authority.js';
import { ConnectedTargets } from './target-port/connected-targets.js';
import type { TargetConnector } from './target-port/onboarding-target.js';
import {
  CLOCK,
  DOWNLINKS,
  ONBOARDING_CONFIG,
  ONBOARDING_KEK,
  ONBOARDING_LOGGER,
  ONBOARDING_STREAMS,
  SERVER_CA_PEM,
  SNAPSHOT_STORE,
  TARGET_CONNECTOR,
  TARGET_CREDENTIALS,
  TARGET_SECRETS,
  type DownlinkSender,
} from './tokens.js';
import { BatchPlanView } from './views/batch-plan.view.js';
import { CertificatesView } from './views/certificates.view.js';
import { TargetsView } from './views/targets.view.js';
import { TransferDeprovisioningsView } from './views/transfer-deprovisionings.view.js';
import { TelemetryFlushJob } from './watch-targets/telemetry-flush.job.js';
import { WatchTargetsHandler } from './watch-targets/watch-targets.handler.js';

export interface OnboardingModuleOptions {
  config: OnboardingConfig;
  platformKey: PlatformKey;
  /** Each target CA's key is derived under it (ONBOARDING_KEK / ONBOARDING_KEK_FILE). */
  kek: Kek;
  logger?: Logger;
  /** Where target admin secrets live. Default: in memory (register targets again after a restart). */
  credentials?: TargetCredentialStore;
  /** Default: the files in ONBOARDING_TARGET_SECRETS_DIR. */
  secrets?: TargetSecrets;
  /** CA of a target's server certificate, sent to devices with their connection parameters. */
  serverCaPem?: (targetId: string) => string | undefined;
  clock?: () => Date;
  /** Opens targets. Default: Mosquitto brokers, each through its agent on the bus; tests pass an in-memory one. */
  targetConnector?: TargetConnector;
  /** Signed device downlinks. Default: DownlinkPublisher on the service's NATS connection. */
  downlinks?: DownlinkSender;
}

/** The contexts onboarding reads (registry, ca, revocation) and writes (onboarding). */
export const onboardingStreams: readonly BoundedContext[] = ['onboarding', 'registry', 'ca', 'revocation'];

/** Views log under onboarding's logger and start once its streams exist. */
const viewDeps = { logger: ONBOARDING_LOGGER, after: [ONBOARDING_STREAMS] };

@Module({})
export class OnboardingModule {
  static forRoot(options: OnboardingModuleOptions): DynamicModule {
    const { config, platformKey, clock } = options;
    const logger = options.logger ?? pino({ name: 'onboarding', level: config.logLevel });
    const connector = (nats: NatsConnection): TargetConnector =>
      options.targetConnector ??
      mosquittoConnector({
        agentOf: (targetId) => new BrokerAgentClient(nats, targetId, { namespace: config.namespace }),
        ...(clock ? { clock } : {}),
        logger,
      });
    const downlinks = (nats: NatsConnection): DownlinkSender =>
      options.downlinks ??
      new DownlinkPublisher({
        platformKey,
        publish: (subject, data) => nats.publish(subject, data),
        namespace: config.namespace,
        ...(clock ? { clock } : {}),
      });
    const ensureStreams = (store: EventStore) => store.ensureStreams(onboardingStreams).then(() => onboardingStreams);
    return {
      module: OnboardingModule,
      controllers: [RegisterTargetMsController, OnboardDevicesMsController],
      providers: [
        { provide: ONBOARDING_CONFIG, useValue: config },
        { provide: ONBOARDING_LOGGER, useValue: logger },
        { provide: CLOCK, useValue: clock ?? (() => new Date()) },
        { provide: TARGET_CREDENTIALS, useValue: options.credentials ?? new InMemoryTargetCredentialStore() },
        { provide: TARGET_SECRETS, useValue: options.secrets ?? new FileTargetSecrets(config.targetSecretsDir) },
        { provide: ONBOARDING_KEK, useValue: options.kek },
        { provide: SERVER_CA_PEM, useValue: options.serverCaPem ?? (() => undefined) },
        { provide: TARGET_CONNECTOR, inject: [NATS_CONNECTION], useFactory: connector },
        { provide: DOWNLINKS, inject: [NATS_CONNECTION], useFactory: downlinks },
        { provide: ONBOARDING_STREAMS, inject: [EVENT_STORE], useFactory: ensureStreams },
        {
          provide: SNAPSHOT_STORE,
          inject: [EVENT_STORE, ONBOARDING_STREAMS],
          useFactory: (store: EventStore) => store.snapshotStore(),
        },
        viewProvider(BatchPlanView, viewDeps),
        viewProvider(CertificatesView, viewDeps),
        viewProvider(TargetsView, viewDeps),
        viewProvider(TransferDeprovisioningsView, viewDeps),
        DeviceWriter,
        TargetWriter,
        TargetAuthorities,
        ConnectedTargets,
        RegisterTargetHandler,
        InstallTrustHandler,
        TargetCrlRefreshJob,
        OnboardDevicesHandler,
        ConnectionParametersResendJob,
        DeprovisionDevicesHandler,
        WatchTargetsHandler,
        TelemetryFlushJob,
        RevokeDeviceHandler,
        PublishedCrlsReaction,
        RevocationRequestsReaction,
        TransferDeprovisioningsJob,
        QuarantineDevicesHandler,
        IntegrityDecisionsReaction,
        RenewTargetCertificatesHandler,
        RenewedCertificatesReaction,
      ],
      exports: [
        BatchPlanView,
        CertificatesView,
        TargetsView,
        ConnectedTargets,
        InstallTrustHandler,
        DeprovisionDevicesHandler,
        WatchTargetsHandler,
      ],
    };
  }
}
