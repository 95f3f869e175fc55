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
import { Inject, Injectable } from '@nestjs/common';
import { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import { describeError } from '@tunnelkey/eventstore';
import { ViewDrivenJob } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { Clock } from '../shared/clock.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { UnrecordedCertificatesView } from '../views/unrecorded-certificates.view.js';
import { RecordCertificateHandler } from './record-certificate.handler.js';

const devicesAtOnce = 32;

@Injectable()
export class RecordCertificatesJob extends ViewDrivenJob {
  readonly #limiter = new ConcurrencyLimiter(devicesAtOnce);
  /** Devices being recorded now. */
  readonly #running = new Map<string, Promise<void>>();
  /** Devices listed again while being recorded: taken up once more when done. */
  readonly #again = new Set<string>();
  /** `deviceId serial` recorded (until the view drops it) or refused (for good): not tried again. */
  readonly #settled = new Map<string, string>();

  constructor(
    private readonly view: UnrecordedCertificatesView,
    private readonly handler: RecordCertificateHandler,
    @Inject(REGISTRY_CLOCK) clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {
    super(() => clock().getTime());
  }

  protected listen(): () => void {
    // Listed while the view folds: taken up once the fold is done (that device alone, not a whole pass).
    return this.view.onUnrecorded((deviceId) => queueMicrotask(() => void this.#take(deviceId)));
  }

  override async onModuleDestroy(): Promise<void> {
    await super.onModuleDestroy();
    await Promise.all(this.#running.values());
  }

  /** Resolves once the job runs (the view is built). */
  started(): Promise<void> {
    return this.view.onModuleInit();
  }

  /** Records what every listed device still lacks (those waiting out a failure excepted); resolves when done (tests). */
  override async sweep(): Promise<void> {
    await this.view.catchUp();
    await super.sweep();
  }

  protected async work(): Promise<void> {
    for (const [key, deviceId] of this.#settled)
      if (!this.view.isUnrecorded(deviceId, key.slice(deviceId.length + 1))) this.#settled.delete(key);
    await Promise.all(this.view.devices().map((deviceId) => this.#take(deviceId)));
  }

  #take(deviceId: string): Promise<void> {
    if (!this.running) return Promise.resolve();
    const running = this.#running.get(deviceId);
    if (running) {
      this.#again.add(deviceId);
      return running;
    }
    if (!this.backoff.due(deviceId)) return Promise.resolve();
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
      if (this.stopped) return;
      if (this.#settled.has(key)) continue;
      try {
        await this.handler.handle(certificate);
        // Recorded (its DeviceCertified takes it off the view) or refused for good.
        this.#settled.set(key, deviceId);
        this.backoff.succeeded(deviceId);
      } catch (error) {
        const { failures, retryInMs, stuck } = this.backoff.failed(deviceId);
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
