/**
 * A device is told where and as whom to connect once, right after its DeviceOnboarded is recorded;
 * a message lost on the way (the bus restarting, the device offline) would leave it onboarded and
 * never connected. So an onboarding stays open until the device connects to that target: the job
 * sweeps the onboardings with no connection since (the log holds everything the parameters need,
 * its target certificate included) and sends the same parameters again, first
 * `ONBOARDING_PARAMETERS_RETRY_MS` after it first saw the device waiting, then at doubling intervals
 * up to an hour, until the device connects, is cut off, or is revoked. At most 1,000 devices per
 * sweep; a restart starts the intervals afresh.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ConnectionParametersMessage, type DataOf, type DeviceOnboarded } from '@tunnelkey/contracts';
import { mapBounded, PeriodicTask } from '@tunnelkey/concurrency';
import { describeError } from '@tunnelkey/errors';
import type { Logger } from 'pino';
import type { OnboardingConfig } from '../config.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import { connectionParametersOf } from './connection-parameters.js';
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
import { BatchPlanView } from '../views/batch-plan.view.js';
import { CertificatesView } from '../views/certificates.view.js';
import { isRevoked } from '../views/revoked.js';
import { TargetsView } from '../views/targets.view.js';

const maxIntervalMs = 3600_000;
const maxPerSweep = 1_000;

interface Schedule {
  attempts: number;
  dueAt: number;
  /** The certificate the schedule is for: a new onboarding starts afresh. */
  serialNumber: string;
}

@Injectable()
export class ConnectionParametersResendJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #task: PeriodicTask<number>;
  readonly #schedules = new Map<string, Schedule>();

  constructor(
    private readonly targets: TargetsView,
    private readonly certificates: CertificatesView,
    private readonly plans: BatchPlanView,
    private readonly connected: ConnectedTargets,
    @Inject(DOWNLINKS) private readonly downlinks: DownlinkSender,
    @Inject(SERVER_CA_PEM) private readonly serverCaPem: ServerCaPem,
    @Inject(ONBOARDING_CONFIG) private readonly config: OnboardingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {
    const everyMs = Math.min(Math.max(config.parametersRetryMs / 4, 1_000), 60_000);
    this.#task = new PeriodicTask(() => this.#sweep(), everyMs);
  }

  onApplicationBootstrap(): void {
    this.#task.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.#task.stop();
  }

  /** One sweep; returns how many devices were sent their parameters again. */
  sweep(): Promise<number> {
    return this.#task.runNow();
  }

  async #sweep(): Promise<number> {
    const now = this.clock().getTime();
    const due: DataOf<typeof DeviceOnboarded>[] = [];
    const waiting = new Set<string>();
    for (const onboarding of this.targets.awaitingConnection()) {
      const { deviceId, targetId } = onboarding;
      const serialNumber = onboarding.certificate!.serialNumber;
      const key = `${deviceId}\u0000${targetId}`;
      waiting.add(key);
      const schedule = this.#schedules.get(key);
      if (!schedule || schedule.serialNumber !== serialNumber) {
        this.#schedules.set(key, { attempts: 0, dueAt: now + this.config.parametersRetryMs, serialNumber });
        continue;
      }
      if (schedule.dueAt > now || due.length >= maxPerSweep) continue;
      if (isRevoked(this.certificates, this.plans, deviceId) || !this.connected.get(targetId)) continue;
      schedule.attempts++;
      schedule.dueAt = now + Math.min(this.config.parametersRetryMs * 2 ** schedule.attempts, maxIntervalMs);
      due.push(onboarding);
    }
    for (const key of this.#schedules.keys()) if (!waiting.has(key)) this.#schedules.delete(key);
    let sent = 0;
    await mapBounded(due, 32, async (onboarding) => {
      try {
        await this.#send(onboarding);
        sent++;
      } catch (error) {
        this.logger.warn(
          {
            event: 'onboarding.parameters_resend_failed',
            deviceId: onboarding.deviceId,
            targetId: onboarding.targetId,
            error: describeError(error),
          },
          'connection parameters could not be sent again; retried at the next interval',
        );
      }
    });
    if (sent > 0)
      this.logger.info(
        { event: 'onboarding.parameters_resent', devices: sent, stillWaiting: waiting.size },
        'connection parameters sent again to onboarded devices that have not connected',
      );
    return sent;
  }

  #send(onboarding: DataOf<typeof DeviceOnboarded>): Promise<void> {
    const { deviceId, targetId, clientId, roleName, topicPrefix, certificate } = onboarding;
    const device = { deviceId, clientId, roleName, topicPrefix };
    const parameters = connectionParametersOf(
      this.connected.get(targetId)!,
      device,
      certificate!.certificatePem,
      this.serverCaPem(targetId),
    );
    return this.downlinks.send(ConnectionParametersMessage, deviceId, parameters);
  }
}
