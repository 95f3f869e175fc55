/**
 * The targets this instance is connected to, by id: how a handler reaches the OnboardingTarget
 * port. It connects every registered target whose credentials it holds: at start, then every few
 * seconds any it is not connected to (a target registered through another instance, one that was
 * unreachable), and before a command that needs one; each connection
 * reports what the target sees to the observers (watch-targets) and watches the telemetry topics
 * of the policies that name the target.
 */
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { PeriodicTask } from '@tunnelkey/concurrency';
import { describeError } from '@tunnelkey/errors';
import type { Logger } from 'pino';
import type { TargetCredentials, TargetCredentialStore } from '../shared/target-credentials.js';
import type { TargetSecrets } from '../shared/target-secrets.js';
import { ONBOARDING_LOGGER, TARGET_CONNECTOR, TARGET_CREDENTIALS, TARGET_SECRETS } from '../tokens.js';
import { BatchPlanView } from '../views/batch-plan.view.js';
import { TargetsView } from '../views/targets.view.js';
import type {
  OnboardingTarget,
  TargetAddress,
  TargetAdminCredentials,
  TargetConnector,
  TargetObservation,
} from './onboarding-target.js';

export type TargetObserver = (targetId: string, observation: TargetObservation) => void;

/** How often targets registered but not connected here are tried again. */
const connectEveryMs = 5_000;

@Injectable()
export class ConnectedTargets implements OnModuleInit, OnModuleDestroy {
  readonly #targets = new Map<string, OnboardingTarget>();
  readonly #observers: TargetObserver[] = [];
  readonly #connecting = new PeriodicTask(() => this.connectRegistered(), connectEveryMs);
  /** Targets whose failure to connect was logged as a warning already (the next ones are debug). */
  readonly #warned = new Set<string>();

  constructor(
    @Inject(TARGET_CONNECTOR) private readonly connector: TargetConnector,
    @Inject(TARGET_CREDENTIALS) private readonly credentials: TargetCredentialStore,
    @Inject(TARGET_SECRETS) private readonly secrets: TargetSecrets,
    private readonly targets: TargetsView,
    private readonly plans: BatchPlanView,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {}

  get(targetId: string): OnboardingTarget | undefined {
    return this.#targets.get(targetId);
  }

  get size(): number {
    return this.#targets.size;
  }

  /** Observers register before the module starts (in their constructor): connections made at start report to them. */
  observe(observer: TargetObserver): void {
    this.#observers.push(observer);
  }

  /**
   * Connects and starts watching, then replaces the previous connection; throws when the target
   * refuses. The new connection is made first: new credentials the target refuses leave the
   * working connection in place (a bad re-registration never leaves a target unmanaged).
   */
  async connect(address: TargetAddress, credentials: TargetCredentials): Promise<void> {
    const target = await this.connector.connect(address, await this.#adminCredentials(credentials));
    try {
      await target.watch((observation) => {
        for (const observer of this.#observers) observer(address.targetId, observation);
      });
      for (const policy of this.plans.policiesNaming(address.targetId))
        await target.observeTopics(policy.topicRights).catch(() => undefined);
    } catch (error) {
      await target.close().catch(() => undefined);
      throw error;
    }
    const previous = this.#targets.get(address.targetId);
    this.#targets.set(address.targetId, target);
    if (previous && previous !== target) await previous.close().catch(() => undefined);
  }

  /** The password is read from its secret file for this connection only; a missing file throws TargetSecretUnavailableError. */
  async #adminCredentials(credentials: TargetCredentials): Promise<TargetAdminCredentials> {
    const { passwordFile, ...reach } = credentials;
    return { ...reach, password: await this.secrets.read(passwordFile) };
  }

  async disconnect(targetId: string): Promise<void> {
    const previous = this.#targets.get(targetId);
    this.#targets.delete(targetId);
    await previous?.close();
  }

  /**
   * Connects the registered targets (`targetIds`, or all) this instance is not connected to and
   * holds credentials for; a failure is logged (a warning once per target) and tried again later.
   */
  async connectRegistered(targetIds?: readonly string[]): Promise<void> {
    for (const registration of this.targets.registrations()) {
      const { targetId } = registration;
      if (this.#targets.has(targetId) || (targetIds && !targetIds.includes(targetId))) continue;
      const credentials = await this.credentials.get(registration.credentialsRef);
      if (!credentials) {
        this.#notConnected(
          targetId,
          'onboarding.target_without_credentials',
          'target registered but its credentials are not in this instance; register it again',
        );
        continue;
      }
      try {
        await this.connect(registration, credentials);
        this.#warned.delete(targetId);
      } catch (error) {
        this.#notConnected(
          targetId,
          'onboarding.target_unreachable',
          'target not reachable; tried again shortly',
          error,
        );
      }
    }
  }

  #notConnected(targetId: string, event: string, message: string, error?: unknown): void {
    const level = this.#warned.has(targetId) ? 'debug' : 'warn';
    this.#warned.add(targetId);
    this.logger[level]({ event, targetId, ...(error ? { error: describeError(error) } : {}) }, message);
  }

  async onModuleInit(): Promise<void> {
    await this.connectRegistered();
    this.#connecting.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.#connecting.stop();
    await Promise.all([...this.#targets.values()].map((target) => target.close().catch(() => undefined)));
    this.#targets.clear();
  }
}
