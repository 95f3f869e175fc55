/**
 * CA -> registry: every certificate the unrecorded-certificates view lists becomes DeviceCertified
 * on its device (RecordCertificateHandler), until the view lists nothing. A device is taken up at
 * once when the view lists a certificate of it, and again at every sweep (1 s) while it is listed;
 * up to `devicesAtOnce` devices are recorded at the same time, each device's certificates one after
 * another in the order the CA issued them. A refusal (the device was revoked meanwhile, or is
 * unknown here) is final: not tried again by this process. A failure (bus away) is tried again with
 * a growing wait (up to 30 s), never given up; an error log line after 5 failures in a row.
 *
 * Fail-closed across restarts and replicas without a durable: the view is rebuilt from both logs,
 * so a certificate still unrecorded after a crash is listed again; every registry instance works on
 * the list, and each write's command id derives from the CA's event, so a second instance (or a
 * second pass) writes nothing.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ConcurrencyLimiter, PeriodicTask, RetryBackoff } from '@tunnelkey/concurrency';
import { describeError } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { Clock } from '../shared/clock.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { UnrecordedCertificatesView } from '../views/unrecorded-certificates.view.js';
import { RecordCertificateHandler } from './record-certificate.handler.js';

const sweepEveryMs = 1_000;
const devicesAtOnce = 32;

@Injectable()
export class RecordCertificatesJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #task = new PeriodicTask(() => this.#sweep(), sweepEveryMs);
  readonly #limiter = new ConcurrencyLimiter(devicesAtOnce);
  /** Devices being recorded now. */
  readonly #running = new Map<string, Promise<void>>();
  /** Devices listed again while being recorded: taken up once more when done. */
  readonly #again = new Set<string>();
  /** Devices whose last attempt failed. */
  readonly #backoff = new RetryBackoff({ now: () => this.clock().getTime() });
  /** `deviceId serial` recorded (until the view drops it) or refused (for good): not tried again. */
  readonly #settled = new Map<string, string>();
  #started = false;
  #stopped = false;
  #stopListening: (() => void) | undefined;

  constructor(
    private readonly view: UnrecordedCertificatesView,
    private readonly handler: RecordCertificateHandler,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (this.#started || this.#stopped) return; // the hybrid app bootstraps twice
    this.#started = true;
    // Listed while the view folds: taken up once the fold is done.
    this.#stopListening = this.view.onUnrecorded((deviceId) => queueMicrotask(() => void this.#take(deviceId)));
    this.#task.start();
    void this.#task.runNow().catch(() => undefined);
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    this.#stopListening?.();
    await this.#task.stop();
    await Promise.all(this.#running.values());
  }

  /** Resolves once the job runs (the view is built). */
  started(): Promise<void> {
    return this.view.onModuleInit();
  }

  /** Records what every listed device still lacks (those waiting out a failure excepted); resolves when done (tests). */
  async sweep(): Promise<void> {
    await this.view.catchUp();
    await this.#task.runNow();
  }

  async #sweep(): Promise<void> {
    for (const [key, deviceId] of this.#settled)
      if (!this.view.isUnrecorded(deviceId, key.slice(deviceId.length + 1))) this.#settled.delete(key);
    await Promise.all(this.view.devices().map((deviceId) => this.#take(deviceId)));
  }

  #take(deviceId: string): Promise<void> {
    if (this.#stopped || !this.#started) return Promise.resolve();
    const running = this.#running.get(deviceId);
    if (running) {
      this.#again.add(deviceId);
      return running;
    }
    if (!this.#backoff.due(deviceId)) return Promise.resolve();
    const run = this.#limiter
      .run(() => this.#record(deviceId))
      .finally(() => {
        this.#running.delete(deviceId);
        if (this.#again.delete(deviceId)) void this.#take(deviceId);
      });
    this.#running.set(deviceId, run);
    return run;
  }

  async #record(deviceId: string): Promise<void> {
    for (const certificate of this.view.certificatesOf(deviceId)) {
      const key = `${deviceId} ${certificate.serialNumber}`;
      if (this.#stopped) return;
      if (this.#settled.has(key)) continue;
      try {
        await this.handler.handle(certificate);
        // Recorded (its DeviceCertified takes it off the view) or refused for good.
        this.#settled.set(key, deviceId);
        this.#backoff.succeeded(deviceId);
      } catch (error) {
        const { failures, retryInMs, stuck } = this.#backoff.failed(deviceId);
        const logged = {
          event: stuck ? 'registry.certificate_record_stuck' : 'registry.certificate_record_retry',
          deviceId,
          serialNumber: certificate.serialNumber,
          failures,
          retryInMs,
          error: describeError(error),
        };
        if (stuck) this.logger.error(logged, 'certificate still not recorded; retrying');
        else this.logger.warn(logged, 'certificate not recorded yet; will retry');
        return;
      }
    }
  }
}
