/**
 * OnboardBatch and OnboardDevice: every certified device of a batch (or one device) onto the
 * targets of its server policy (or the named ones). Validated before the reply; then per target:
 * its trust first (its own CA, its CRL, the policy's topic rights: one reload at most), the
 * policy's telemetry topics watched, then per device, in chunks: its platform certificate verified
 * up to the pinned root, a target certificate issued for the same key by the target's CA,
 * DeviceOnboarded (then its connection parameters with that certificate, signed, on its downlink)
 * or DeviceOnboardingFailed. No broker call per device (docs/decisions/0001).
 *
 * Decided on fresh state: each chunk is checked against the views caught up with the log just
 * before its certificates are issued, so a device revoked during a long run is not onboarded after
 * its revocation is known. One revoked while its chunk is being recorded is undone before the next
 * chunk (its target certificate put on the target's CRL, its session dropped): its DeviceOnboarded
 * is refused (the device is deprovisioned as revoked), or, recorded already, followed by
 * DeviceDeprovisioned (revoked).
 */
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
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
import { derivedMetadata, isCommandRejected, isStoreUnavailable, metadataOf } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { OnboardingConfig } from '../config.js';
import { OnboardingCommandRejected, TargetUnreachableError, UnsafeTopicRightError } from '../errors.js';
import { InstallTrustHandler } from '../install-trust/install-trust.handler.js';
import type { OnboardingRun } from '../deciders/target.decider.js';
import { DeviceWriter } from '../shared/device-writer.js';
import { TargetWriter } from '../shared/target-writer.js';
import { TargetAuthorities } from '../target-authority/target-authority.js';
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
import { isRevoked } from '../views/revoked.js';
import { TargetsView } from '../views/targets.view.js';
import { connectionParametersOf } from './connection-parameters.js';

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

/** How long a run waits for an unavailable event store before it gives the rest up. */
const storeOutageMs = 5 * 60_000;
type OnboardedCertificate = NonNullable<DataOf<typeof DeviceOnboarded>['certificate']>;

/** A device the target registered: its DeviceOnboarded recorded, or refused because it was revoked meanwhile. */
interface Recorded {
  device: RegisteredDevice;
  certificate: OnboardedCertificate;
  refused: boolean;
}

@Injectable()
export class OnboardDevicesHandler implements OnApplicationBootstrap {
  /** Runs going on in this instance, by target and run id: a run resumed from the log is not run twice here. */
  readonly #running = new Set<string>();
  #resumed = false;

  constructor(
    private readonly plans: BatchPlanView,
    private readonly certificates: CertificatesView,
    private readonly targets: TargetsView,
    private readonly connected: ConnectedTargets,
    private readonly trust: InstallTrustHandler,
    private readonly authorities: TargetAuthorities,
    private readonly devices: DeviceWriter,
    private readonly targetWriter: TargetWriter,
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

  /**
   * At start: the runs the targets' logs list as started and not finished (the instance running them
   * crashed, or was stopped) are run again under their own run id, so what was done is not done again.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (this.#resumed) return; // the hybrid app bootstraps twice
    this.#resumed = true;
    void this.resumeRuns().catch((error: unknown) =>
      this.logger.error({ event: 'onboarding.runs_not_resumed', error: describeError(error) }, 'runs not resumed'),
    );
  }

  /** Runs again every run the log lists as not finished and this instance is not running; resolves when they are done. */
  async resumeRuns(): Promise<OnboardingReport[]> {
    await this.#catchUp();
    const runs: Promise<OnboardingReport>[] = [];
    for (const { targetId } of this.targets.registrations()) {
      for (const run of await this.targetWriter.openRuns(targetId)) {
        const started = this.#resume(targetId, run);
        if (started) runs.push(started);
      }
    }
    return Promise.all(runs);
  }

  #resume(targetId: string, run: OnboardingRun): Promise<OnboardingReport> | undefined {
    const policy = this.plans.policy(run.policyId);
    if (this.#running.has(`${targetId}/${run.runId}`) || !policy || !this.connected.get(targetId)) return undefined;
    const deviceIds = run.deviceId ? [run.deviceId] : this.plans.members(run.batchId);
    this.logger.info(
      { event: 'onboarding.run_resumed', targetId, runId: run.runId, batchId: run.batchId, devices: deviceIds.length },
      'an onboarding run not finished is run again',
    );
    const metadata: CommandMetadata = {
      commandId: run.runId,
      correlationId: run.runId,
      now: this.clock().toISOString(),
    };
    return this.#onboard(run.batchId, policy, deviceIds, [targetId], metadata);
  }

  async onboardDevice(command: CommandOf<typeof OnboardDevice>): Promise<OnboardingStarted> {
    await this.#catchUp();
    const batchId = this.plans.batchOf(command.deviceId);
    if (!batchId) {
      throw new OnboardingCommandRejected('unknown-device', `device ${command.deviceId} is in no known batch`, {
        deviceId: command.deviceId,
      });
    }
    return this.#start(
      batchId,
      [command.deviceId],
      command.targetIds,
      metadataOf(command, this.clock()),
      command.deviceId,
    );
  }

  /** The views up to now, and every registered target connected (one registered through another instance too). */
  async #catchUp(): Promise<void> {
    await Promise.all([this.plans.catchUp(), this.certificates.catchUp(), this.targets.catchUp()]);
    await this.connected.connectRegistered();
  }

  /** What a decision on revocation reads: the CA's certificates and the registry's devices, up to now. */
  #freshen(): Promise<unknown> {
    return Promise.all([this.plans.catchUp(), this.certificates.catchUp()]);
  }

  /** Revoked by the CA (its certificate) or by the registry, as far as the views know. */
  #revoked(deviceId: string): boolean {
    return isRevoked(this.certificates, this.plans, deviceId);
  }

  async #start(
    batchId: string,
    deviceIds: string[],
    requestedTargets: string[] | undefined,
    metadata: CommandMetadata,
    oneDevice?: string,
  ): Promise<OnboardingStarted> {
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
    // The run is in the log before the answer: an instance that starts after a crash finishes it.
    for (const targetId of targetIds) {
      const run = { targetId, runId: metadata.commandId, batchId, policyId: policy.policyId };
      await this.targetWriter.record(targetId, {
        type: 'StartRun',
        data: oneDevice ? { ...run, deviceId: oneDevice } : run,
        metadata: derivedMetadata(metadata, 'run', targetId),
      });
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
    const keys = targetIds.map((targetId) => `${targetId}/${metadata.commandId}`);
    keys.forEach((key) => this.#running.add(key));
    try {
      return await this.#onboardNow(batchId, policy, deviceIds, targetIds, metadata);
    } finally {
      keys.forEach((key) => this.#running.delete(key));
    }
  }

  async #onboardNow(
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
    await Promise.all(
      targetIds.map(async (targetId) => {
        const target = this.connected.get(targetId)!;
        try {
          // A target down (a broker restarting) is tried again: its devices fail only if it stays down.
          await this.#whileTargetDown(batchId, targetId, () =>
            this.#whileStoreDown(batchId, targetId, async () => {
              await this.trust.ensureTrust(targetId, metadata, { policyIds: [policy.policyId] });
              await target.observeTopics(policy.topicRights);
            }),
          );
        } catch (error) {
          const reason = error instanceof TargetUnreachableError ? 'target-unreachable' : 'target-refused';
          eligible.forEach((deviceId) => fail(deviceId, targetId, reason, describeError(error)));
          return;
        }
        const authority = await this.authorities.for(targetId);
        const serverCaPem = this.serverCaPem(targetId);
        /** Devices onboarded here before: their earlier target certificates go on the CRL at the end. */
        let replaced = 0;
        for (let i = 0; i < eligible.length; i += this.config.onboardChunkSize) {
          // A chunk cut short by the store (the bus restarting) is done again: every record has a
          // derived command id, and a device recorded already is sent its recorded certificate again.
          await this.#whileStoreDown(batchId, targetId, async () => {
            // Decide on fresh state, right before the certificates are issued: a device revoked meanwhile is not onboarded.
            await this.#freshen();
            const chunk: string[] = [];
            for (const deviceId of eligible.slice(i, i + this.config.onboardChunkSize)) {
              if (this.#revoked(deviceId)) fail(deviceId, targetId, 'device-revoked');
              else chunk.push(deviceId);
            }
            if (chunk.length === 0) return;
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
                const current = this.targets.onboarding(deviceId, targetId);
                // Onboarded here already (a retry, a second run): its connection parameters again, nothing new issued.
                if (current?.certificate && this.targets.activeTargets(deviceId).includes(targetId))
                  return { device: outcome, certificate: current.certificate, refused: false };
                const key = await this.trust.verifiedDeviceKey(deviceId);
                if (!key.ok) {
                  fail(deviceId, targetId, key.reason, key.detail);
                  return undefined;
                }
                const certificate = await authority.issue({ deviceId, ...key });
                const data: DataOf<typeof DeviceOnboarded> = {
                  deviceId,
                  targetId,
                  batchId,
                  policyId: policy.policyId,
                  clientId,
                  roleName,
                  topicPrefix,
                  certificate,
                };
                if (current?.certificate) replaced++;
                const step = derivedMetadata(metadata, 'onboard', deviceId, targetId);
                // Nothing of the device in the view: its first onboarding, decided without reading its (empty) stream.
                const likelyNew = !this.targets.knows(deviceId);
                try {
                  const command = { type: 'RecordOnboarded', data, metadata: step } as const;
                  await this.devices.record(deviceId, command, 'records', { likelyNew });
                  // Known at once (before its parameters are sent), so the device's first connection is not
                  // missed; only once recorded, so every certificate the view knows is on record.
                  this.targets.noteOnboarded(data, this.clock());
                  return { device: outcome, certificate, refused: false };
                } catch (error) {
                  // Revoked (and deprovisioned) since the check: the log refuses; the target is told below.
                  if (isCommandRejected(error) && error.reason === 'device-revoked')
                    return { device: outcome, certificate, refused: true };
                  if (isStoreUnavailable(error)) throw error;
                  writes.push(Promise.reject(error instanceof Error ? error : new Error(String(error))));
                  return undefined;
                }
              }),
            );
            // Revoked while the chunk was being recorded: its certificate goes on the CRL before the next chunk.
            await this.#freshen();
            const kept: Recorded[] = [];
            const undo: Recorded[] = [];
            for (const r of recorded) {
              if (!r) continue;
              if (r.refused || this.#revoked(r.device.deviceId)) undo.push(r);
              else kept.push(r);
            }
            if (undo.length > 0) failed += await this.#undo(target, undo, metadata, writes, batchId);
            for (const { device, certificate } of kept) {
              onboarded++;
              const parameters = connectionParametersOf(target, device, certificate.certificatePem, serverCaPem);
              writes.push(this.downlinks.send(ConnectionParametersMessage, device.deviceId, parameters));
            }
          });
        }
        if (replaced > 0) {
          try {
            await this.trust.ensureTrust(targetId, derivedMetadata(metadata, 'replaced', targetId));
          } catch (error) {
            // The replaced certificates stay valid until the next install (a revocation, the CRL refresh).
            this.logger.error(
              {
                event: 'onboarding.replaced_not_revoked',
                batchId,
                targetId,
                devices: replaced,
                error: describeError(error),
              },
              'target certificates replaced by this run could not be put on the target CRL yet',
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
    // Every device went through: the run is finished (a restart does not run it again).
    for (const targetId of targetIds)
      await this.targetWriter
        .record(targetId, {
          type: 'FinishRun',
          data: { targetId, runId: metadata.commandId, onboarded, failed },
          metadata: derivedMetadata(metadata, 'run-finished', targetId),
        })
        .catch((error: unknown) =>
          this.logger.warn(
            { event: 'onboarding.run_not_finished', batchId, targetId, error: describeError(error) },
            'the run is done but not recorded finished: an instance that starts runs it again (nothing twice)',
          ),
        );
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
   * Runs `step` again while the target is unreachable (a broker restarting, its agent away): after
   * 0.5 s, the wait doubling up to 10 s, for at most `targetRetrySeconds`; then, or on any other
   * error, it throws as before.
   */
  async #whileTargetDown(batchId: string, targetId: string, step: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + this.config.targetRetrySeconds * 1000;
    for (let waitMs = 500; ; waitMs = Math.min(waitMs * 2, 10_000)) {
      try {
        return await step();
      } catch (error) {
        if (!(error instanceof TargetUnreachableError) || Date.now() + waitMs > deadline) throw error;
        this.logger.warn(
          { event: 'onboarding.target_unavailable', batchId, targetId, waitMs, error: describeError(error) },
          'the target is unreachable: tried again before its devices are recorded failed',
        );
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  /**
   * Runs `step` again while the event store is unavailable (the bus restarting, a network blip):
   * after 0.5 s, the wait doubling up to 10 s, for at most `storeOutageMs`; any other error, or the
   * outage outlasting that, is thrown as before.
   */
  async #whileStoreDown(batchId: string, targetId: string, step: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + storeOutageMs;
    for (let waitMs = 500; ; waitMs = Math.min(waitMs * 2, 10_000)) {
      try {
        return await step();
      } catch (error) {
        if (!isStoreUnavailable(error) || Date.now() + waitMs > deadline) throw error;
        this.logger.warn(
          { event: 'onboarding.store_unavailable', batchId, targetId, waitMs, error: describeError(error) },
          'the event store is unavailable: this part of the run is done again once it answers',
        );
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  /**
   * Cuts off devices revoked while their chunk was being recorded: the target's CRL made to list
   * their certificates, then their sessions dropped; and records it: DeviceOnboardingFailed
   * (device-revoked) where DeviceOnboarded was refused, DeviceDeprovisioned (revoked) where it was
   * recorded. Returns how many were undone.
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
    await this.trust.ensureTrust(targetId, derivedMetadata(metadata, 'undo', targetId));
    const outcomes = await target.disableDevices(undo.map((r) => r.device.deviceId));
    for (const outcome of outcomes) {
      const { deviceId } = outcome;
      if (!outcome.ok) {
        // Its session may stay up (the CRL refuses its next handshake); the operator must act.
        this.logger.error(
          { event: 'onboarding.revoked_device_not_disabled', batchId, deviceId, targetId, reason: outcome.reason },
          'a device revoked during onboarding could not be cut off at the target',
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
      'devices revoked while being onboarded were cut off at the target',
    );
    return undo.length;
  }
}
