import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { mapBounded, PeriodicTask } from '@tunnelkey/concurrency';
import { derivedCommandId, describeError, metadataOf } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config.js';
import type { Clock } from '../shared/clock.js';
import { REGISTRY_CLOCK, REGISTRY_CONFIG, REGISTRY_LOGGER } from '../tokens.js';
import { IntegrityView } from '../views/integrity.view.js';
import { silentTooLong } from './heartbeat-judge.js';
import { HeartbeatLedger } from './heartbeat-ledger.js';
import { RecordViolation } from './record-violation.js';

const recordsInFlight = 32;

/**
 * Every REGISTRY_INTEGRITY_CHECK_MS: a device heard from before whose silence is now longer than
 * its policy allows gets a `heartbeat-missing` violation, once per silence (the violation id and
 * the decider both derive from the last heartbeat before it, so replicas and later sweeps write
 * nothing twice). Its next heartbeat starts a new line.
 */
@Injectable()
export class SilentDevicesJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #task: PeriodicTask<number>;
  /** Silences recorded: the heartbeat (device and its time) they follow. */
  readonly #flagged = new Map<string, string>();

  constructor(
    private readonly ledger: HeartbeatLedger,
    private readonly integrity: IntegrityView,
    private readonly violations: RecordViolation,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {
    this.#task = new PeriodicTask(() => this.#sweep(), config.integrityCheckMs || 1_000);
  }

  onApplicationBootstrap(): void {
    if (this.config.integrityCheckMs > 0) this.#task.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.#task.stop();
  }

  /** Records every silence found now; returns how many it recorded. */
  sweep(): Promise<number> {
    return this.#task.runNow();
  }

  async #sweep(): Promise<number> {
    const now = this.clock();
    const silent: { deviceId: string; heartbeatAt: string; counter: number }[] = [];
    for (const [deviceId, entry] of this.ledger.entries()) {
      if (this.#flagged.get(deviceId) === entry.sentAtIso) continue;
      if (!this.integrity.monitored(deviceId)) {
        this.ledger.forget(deviceId);
        continue;
      }
      if (silentTooLong(entry.receivedAt, now.getTime(), this.integrity.policyFor(deviceId)))
        silent.push({ deviceId, heartbeatAt: entry.sentAtIso, counter: entry.counter });
    }
    let recorded = 0;
    await mapBounded(silent, recordsInFlight, async ({ deviceId, heartbeatAt, counter }) => {
      const violationId = derivedCommandId(`integrity-${deviceId}`, `heartbeat-missing-${counter}`);
      try {
        const metadata = metadataOf({ commandId: violationId, actor: { kind: 'service', id: 'registry' } }, now);
        const { action } = this.integrity.policyFor(deviceId);
        const violation = { deviceId, violationId, kind: 'heartbeat-missing' as const, action, heartbeatAt };
        if (await this.violations.record({ ...violation, lastCounter: counter }, metadata)) recorded++;
        this.#flagged.set(deviceId, heartbeatAt);
      } catch (error) {
        // The next sweep tries again (same violation id: written once).
        this.logger.error(
          { event: 'registry.silence_not_recorded', deviceId, error: describeError(error) },
          'silence could not be recorded',
        );
      }
    });
    return recorded;
  }
}
