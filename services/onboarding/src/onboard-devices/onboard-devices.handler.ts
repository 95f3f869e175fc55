/**
 * OnboardBatch and OnboardDevice: every certified device of a batch (or one device) onto the
 * targets of its server policy (or the named ones). Validated before the reply; then per target:
 * trust first (the issuing CA chains and CRLs), the policy's telemetry topics watched, the devices
 * registered in chunks, and per device DeviceOnboarded (then its connection parameters, signed,
 * on its downlink) or DeviceOnboardingFailed.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  ConnectionParametersMessage,
  type CommandMetadata,
  type CommandOf,
  type DataOf,
  type DeviceOnboarded,
  type DeviceOnboardingFailed,
  type OnboardBatch,
  type OnboardDevice,
} from '@tunnelkey/contracts';
import { describeError } from '@tunnelkey/errors';
import { derivedMetadata, metadataOf } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { OnboardingConfig } from '../config.js';
import { OnboardingCommandRejected, TargetUnreachableError, UnsafeTopicRightError } from '../errors.js';
import { InstallTrustHandler } from '../install-trust/install-trust.handler.js';
import { DeviceWriter } from '../shared/device-writer.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import { checkTopicRights } from '../target-port/topic-plan.js';
import {
  CLOCK,
  DOWNLINKS,
  ONBOARDING_CONFIG,
  ONBOARDING_LOGGER,
  SERVER_CA_PEM,
  type Clock,
  type DownlinkSender,
  type ServerCaPem,
} from '../tokens.js';
import { BatchPlanView, type PolicyPlan } from '../views/batch-plan.view.js';
import { CertificatesView } from '../views/certificates.view.js';
import { TargetsView } from '../views/targets.view.js';

export interface OnboardingReport {
  onboarded: number;
  failed: number;
  /** Milliseconds from the command to the last device recorded. */
  durationMs: number;
}

/** The reply (how many devices are under way) and the run itself, which goes on after the reply. */
export interface OnboardingStarted {
  devices: number;
  done: Promise<OnboardingReport>;
}

type FailureReason = DataOf<typeof DeviceOnboardingFailed>['reason'];

@Injectable()
export class OnboardDevicesHandler {
  constructor(
    private readonly plans: BatchPlanView,
    private readonly certificates: CertificatesView,
    private readonly targets: TargetsView,
    private readonly connected: ConnectedTargets,
    private readonly trust: InstallTrustHandler,
    private readonly devices: DeviceWriter,
    @Inject(DOWNLINKS) private readonly downlinks: DownlinkSender,
    @Inject(SERVER_CA_PEM) private readonly serverCaPem: ServerCaPem,
    @Inject(ONBOARDING_CONFIG) private readonly config: OnboardingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {}

  async onboardBatch(command: CommandOf<typeof OnboardBatch>): Promise<OnboardingStarted> {
    await this.#catchUp();
    if (!this.plans.batch(command.batchId)) {
      throw new OnboardingCommandRejected('unknown-batch', `batch ${command.batchId} is not known`, {
        batchId: command.batchId,
      });
    }
    return this.#start(
      command.batchId,
      this.plans.members(command.batchId),
      command.targetIds,
      metadataOf(command, this.clock()),
    );
  }

  async onboardDevice(command: CommandOf<typeof OnboardDevice>): Promise<OnboardingStarted> {
    await this.#catchUp();
    const batchId = this.plans.batchOf(command.deviceId);
    if (!batchId) {
      throw new OnboardingCommandRejected('unknown-device', `device ${command.deviceId} is in no known batch`, {
        deviceId: command.deviceId,
      });
    }
    return this.#start(batchId, [command.deviceId], command.targetIds, metadataOf(command, this.clock()));
  }

  #catchUp(): Promise<unknown> {
    return Promise.all([this.plans.catchUp(), this.certificates.catchUp(), this.targets.catchUp()]);
  }

  #start(
    batchId: string,
    deviceIds: string[],
    requestedTargets: string[] | undefined,
    metadata: CommandMetadata,
  ): OnboardingStarted {
    const batch = this.plans.batch(batchId)!;
    const policy = this.plans.policy(batch.policyId);
    if (!policy) {
      throw new OnboardingCommandRejected(
        'unknown-policy',
        `policy ${batch.policyId} of batch ${batchId} is not known`,
        { batchId },
      );
    }
    const targetIds = requestedTargets ?? policy.targetIds;
    if (targetIds.length === 0) {
      throw new OnboardingCommandRejected('policy-has-no-target', `policy ${policy.policyId} names no target`, {
        policyId: policy.policyId,
      });
    }
    for (const targetId of targetIds) {
      if (!this.targets.target(targetId)) {
        throw new OnboardingCommandRejected('unknown-target', `target ${targetId} is not registered`, { targetId });
      }
      if (!this.connected.get(targetId)) {
        const message = `target ${targetId} is not connected (credentials missing or admin API down)`;
        throw new OnboardingCommandRejected('target-unreachable', message, { targetId });
      }
    }
    try {
      checkTopicRights(policy.topicRights);
    } catch (error) {
      if (error instanceof UnsafeTopicRightError)
        throw new OnboardingCommandRejected('unsafe-topic-rights', error.message, { policyId: policy.policyId });
      throw error;
    }
    const done = this.#onboard(batchId, policy, deviceIds, targetIds, metadata);
    done.catch((error: unknown) =>
      this.logger.error(
        { event: 'onboarding.batch_failed', batchId, error: describeError(error) },
        'onboarding run failed',
      ),
    );
    return { devices: deviceIds.length, done };
  }

  async #onboard(
    batchId: string,
    policy: PolicyPlan,
    deviceIds: string[],
    targetIds: string[],
    metadata: CommandMetadata,
  ): Promise<OnboardingReport> {
    const started = Date.now();
    let onboarded = 0;
    let failed = 0;
    const eligible: string[] = [];
    const writes: Promise<void>[] = [];
    const fail = (deviceId: string, targetId: string, reason: FailureReason, detail?: string) => {
      failed++;
      const data = { deviceId, targetId, reason, ...(detail ? { detail: detail.slice(0, 500) } : {}) };
      const step = derivedMetadata(metadata, 'onboard-failed', deviceId, targetId);
      writes.push(this.devices.record(deviceId, { type: 'RecordOnboardingFailed', data, metadata: step }));
    };
    for (const deviceId of deviceIds) {
      const device = this.certificates.device(deviceId);
      if (device?.revoked || this.plans.revokedByRegistry(deviceId))
        targetIds.forEach((t) => fail(deviceId, t, 'device-revoked'));
      else if (!device?.certificate) targetIds.forEach((t) => fail(deviceId, t, 'device-not-certified'));
      else eligible.push(deviceId);
    }
    const authorities = [...new Set(eligible.map((id) => this.certificates.device(id)!.certificate!.authorityId))];

    await Promise.all(
      targetIds.map(async (targetId) => {
        const target = this.connected.get(targetId)!;
        try {
          await this.trust.ensureTrust(targetId, authorities, metadata);
          await target.observeTopics(policy.topicRights);
        } catch (error) {
          const reason = error instanceof TargetUnreachableError ? 'target-unreachable' : 'target-refused';
          eligible.forEach((deviceId) => fail(deviceId, targetId, reason, describeError(error)));
          return;
        }
        const serverCaPem = this.serverCaPem(targetId);
        for (let i = 0; i < eligible.length; i += this.config.onboardChunkSize) {
          const chunk = eligible.slice(i, i + this.config.onboardChunkSize);
          const outcomes = await target.registerDevices(
            chunk.map((deviceId) => ({ deviceId, topicRights: policy.topicRights })),
          );
          for (const outcome of outcomes) {
            if (!outcome.ok) {
              fail(outcome.deviceId, targetId, outcome.reason, outcome.detail);
              continue;
            }
            onboarded++;
            const { deviceId, clientId, roleName, topicPrefix } = outcome;
            const data: DataOf<typeof DeviceOnboarded> = {
              deviceId,
              targetId,
              batchId,
              policyId: policy.policyId,
              clientId,
              roleName,
              topicPrefix,
            };
            // Known at once, so the device's first connection (which may come within milliseconds) is not missed.
            this.targets.noteOnboarded(data);
            const step = derivedMetadata(metadata, 'onboard', deviceId, targetId);
            const parameters = {
              targetId,
              ...target.connectionParameters(outcome),
              ...(serverCaPem ? { serverCaPem } : {}),
            };
            writes.push(
              this.devices
                .record(deviceId, { type: 'RecordOnboarded', data, metadata: step })
                .then(() => this.downlinks.send(ConnectionParametersMessage, deviceId, parameters)),
            );
          }
        }
      }),
    );
    const results = await Promise.allSettled(writes);
    const writeFailures = results.filter((r) => r.status === 'rejected').length;
    if (writeFailures)
      this.logger.warn(
        { event: 'onboarding.record_failed', batchId, count: writeFailures },
        'some outcomes were not recorded',
      );
    const report = { onboarded, failed, durationMs: Date.now() - started };
    const context = {
      event: 'onboarding.batch_done',
      batchId,
      targets: targetIds.length,
      ...report,
      correlationId: metadata.correlationId,
    };
    this.logger.info(context, 'batch onboarded');
    return report;
  }
}
