/**
 * OnboardBatch and OnboardDevice: every certified device of a batch (or one device) onto the
 * targets of its server policy (or the named ones). Validated before the reply; then per target:
 * trust first (the issuing CA chains and CRLs), the policy's telemetry topics watched, the devices
 * registered in chunks, and per device DeviceOnboarded (then its connection parameters, signed,
 * on its downlink) or DeviceOnboardingFailed.
 *
 * Decided before every broker call: each chunk is checked against the views caught up with the
 * log just before it is registered, so a device revoked during a long run is never registered
 * after its revocation is known. One revoked while its chunk is at the broker is undone there
 * (disabled, its role removed) before the next chunk: its DeviceOnboarded is refused (the device
 * is deprovisioned as revoked), or, recorded already, followed by DeviceDeprovisioned (revoked).
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
import { derivedMetadata, isCommandRejected, metadataOf } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { OnboardingConfig } from '../config.js';
import { OnboardingCommandRejected, TargetUnreachableError, UnsafeTopicRightError } from '../errors.js';
import { InstallTrustHandler } from '../install-trust/install-trust.handler.js';
import { DeviceWriter } from '../shared/device-writer.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import type { OnboardingTarget, RegisteredDevice } from '../target-port/onboarding-target.js';
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

/** A device the target registered: its DeviceOnboarded recorded, or refused because it was revoked meanwhile. */
interface Recorded {
  device: RegisteredDevice;
  refused: boolean;
}

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

  /** What a decision on revocation reads: the CA's certificates and the registry's devices, up to now. */
  #freshen(): Promise<unknown> {
    return Promise.all([this.plans.catchUp(), this.certificates.catchUp()]);
  }

  /** Revoked by the CA (its certificate) or by the registry, as far as the views know. */
  #revoked(deviceId: string): boolean {
    return this.certificates.device(deviceId)?.revoked === true || this.plans.revokedByRegistry(deviceId);
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
      if (this.#revoked(deviceId)) targetIds.forEach((t) => fail(deviceId, t, 'device-revoked'));
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
          // Decide on fresh state, right before the broker call: a device revoked meanwhile is not registered.
          await this.#freshen();
          const chunk: string[] = [];
          for (const deviceId of eligible.slice(i, i + this.config.onboardChunkSize)) {
            if (this.#revoked(deviceId)) fail(deviceId, targetId, 'device-revoked');
            else chunk.push(deviceId);
          }
          if (chunk.length === 0) continue;
          const outcomes = await target.registerDevices(
            chunk.map((deviceId) => ({ deviceId, topicRights: policy.topicRights })),
          );
          const recorded = await Promise.all(
            outcomes.map(async (outcome): Promise<Recorded | undefined> => {
              if (!outcome.ok) {
                fail(outcome.deviceId, targetId, outcome.reason, outcome.detail);
                return undefined;
              }
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
              try {
                await this.devices.record(deviceId, { type: 'RecordOnboarded', data, metadata: step });
                return { device: outcome, refused: false };
              } catch (error) {
                // Revoked (and deprovisioned) since the check: the log refuses; the broker is undone below.
                if (isCommandRejected(error) && error.reason === 'device-revoked')
                  return { device: outcome, refused: true };
                writes.push(Promise.reject(error instanceof Error ? error : new Error(String(error))));
                return undefined;
              }
            }),
          );
          // Revoked while the chunk was at the broker: undo there before the next chunk.
          await this.#freshen();
          const kept: RegisteredDevice[] = [];
          const undo: Recorded[] = [];
          for (const r of recorded) {
            if (!r) continue;
            if (r.refused || this.#revoked(r.device.deviceId)) undo.push(r);
            else kept.push(r.device);
          }
          if (undo.length > 0) failed += await this.#undo(target, undo, metadata, writes, batchId);
          for (const device of kept) {
            onboarded++;
            const parameters = {
              targetId,
              ...target.connectionParameters(device),
              ...(serverCaPem ? { serverCaPem } : {}),
            };
            writes.push(this.downlinks.send(ConnectionParametersMessage, device.deviceId, parameters));
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
  /**
   * Disables at the target (drops a session, removes the role) devices revoked while their chunk was
   * at the broker, and records it: DeviceOnboardingFailed (device-revoked) where DeviceOnboarded was
   * refused, DeviceDeprovisioned (revoked) where it was recorded. Returns how many were undone.
   */
  async #undo(
    target: OnboardingTarget,
    undo: readonly Recorded[],
    metadata: CommandMetadata,
    writes: Promise<void>[],
    batchId: string,
  ): Promise<number> {
    const { targetId } = target;
    const refused = new Set(undo.filter((r) => r.refused).map((r) => r.device.deviceId));
    const outcomes = await target.disableDevices(undo.map((r) => r.device.deviceId));
    for (const outcome of outcomes) {
      const { deviceId } = outcome;
      if (!outcome.ok) {
        // Left enabled: the CRL the target enforces still refuses its handshakes; the operator must act.
        this.logger.error(
          { event: 'onboarding.revoked_device_not_disabled', batchId, deviceId, targetId, reason: outcome.reason },
          'a device revoked during onboarding could not be disabled at the target',
        );
        continue;
      }
      this.targets.noteDeprovisioned(deviceId, targetId);
      if (refused.has(deviceId)) {
        const data = { deviceId, targetId, reason: 'device-revoked' as const };
        const step = derivedMetadata(metadata, 'onboard-failed', deviceId, targetId);
        writes.push(this.devices.record(deviceId, { type: 'RecordOnboardingFailed', data, metadata: step }));
      } else {
        const revocationId = this.certificates.device(deviceId)?.revocationId;
        const data = { deviceId, targetId, reason: 'revoked' as const, ...(revocationId ? { revocationId } : {}) };
        const step = derivedMetadata(metadata, 'onboard-revoked', deviceId, targetId);
        writes.push(this.devices.record(deviceId, { type: 'RecordDeprovisioned', data, metadata: step }));
      }
    }
    this.logger.warn(
      { event: 'onboarding.revoked_during_run', batchId, targetId, devices: undo.length },
      'devices revoked while being onboarded were disabled at the target',
    );
    return undo.length;
  }
}
