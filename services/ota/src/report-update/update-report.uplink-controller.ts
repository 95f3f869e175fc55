/**
 * A device's report on an offer (`update-report`, the signed boot report): verified as every uplink
 * (a forged signature or a replayed counter changes nothing), then recorded on the device's stream:
 * applied only when it booted an image whose measurement equals the release digest; otherwise
 * failed with the device's reason. A report for a rollout the device was not offered is refused.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { UpdateReportMessage, type DeviceBodyOf, type DeviceEnvelope } from '@tunnelkey/contracts';
import { CommandRejected, derivedCommandId, isStoreUnavailable } from '@tunnelkey/eventstore';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { OtaConfig } from '../config.js';
import { RolloutDriverJob } from '../rollout-process/rollout-driver.job.js';
import { otaActor, OtaWriter } from '../shared/ota-writer.js';
import { UplinkSubscription } from '../shared/uplink-subscription.js';
import { CLOCK, OTA_CONFIG, OTA_LOGGER, type Clock } from '../tokens.js';
import { FleetView } from '../views/fleet.view.js';

/** Waits before recording a report again while the log is out of reach (the device sends it once). */
const storeRetryBackoffMs = [250, 1_000, 4_000, 10_000];
/** Resolves after `ms`, or at once when `signal` aborts (the service stopping). */
const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** Offer-to-report timings (the bench reads them). */
export type ReportListener = (rolloutId: string, deviceId: string, outcome: 'applied' | 'failed') => void;

@Injectable()
export class UpdateReportUplinkController implements OnApplicationBootstrap, OnModuleDestroy {
  readonly uplinks: UplinkSubscription;
  readonly listeners = new Set<ReportListener>();
  /** Aborted at shutdown: a report is not retried against a log the service is leaving (it held the stop 15 s). */
  readonly #stopping = new AbortController();

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly writer: OtaWriter,
    private readonly driver: RolloutDriverJob,
    fleet: FleetView,
    @Inject(OTA_CONFIG) config: OtaConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(OTA_LOGGER) private readonly logger: Logger,
  ) {
    this.uplinks = new UplinkSubscription({
      kind: UpdateReportMessage.kind,
      namespace: config.namespace,
      fleet,
      clock,
      logger,
      concurrency: 32,
      handle: (envelope) => this.record(envelope),
    });
  }

  onApplicationBootstrap(): void {
    this.uplinks.start(this.nc);
  }

  onModuleDestroy(): Promise<void> {
    this.#stopping.abort();
    return this.uplinks.stop();
  }

  /** Recorded again while the log is out of reach: the command id derives from the report, so it lands once. */
  async #recordWithRetry(...args: Parameters<OtaWriter['recordDevice']>): ReturnType<OtaWriter['recordDevice']> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.writer.recordDevice(...args);
      } catch (error) {
        const stopping = this.#stopping.signal;
        if (!isStoreUnavailable(error) || attempt >= storeRetryBackoffMs.length || stopping.aborted) throw error;
        await pause(storeRetryBackoffMs[attempt]!, stopping);
      }
    }
  }

  async record(envelope: DeviceEnvelope): Promise<void> {
    const { deviceId } = envelope;
    const body = envelope.body as DeviceBodyOf<typeof UpdateReportMessage>;
    this.driver.answered(body.rolloutId, deviceId);
    try {
      const { events } = await this.#recordWithRetry(deviceId, {
        type: 'RecordUpdateReport',
        data: {
          rolloutId: body.rolloutId,
          status: body.status,
          firmwareMeasurement: body.firmwareMeasurement,
          ...(body.reason ? { reason: body.reason } : {}),
          ...(body.detail ? { detail: body.detail } : {}),
        },
        metadata: {
          commandId: derivedCommandId(deviceId, 'update-report', `${envelope.counter}`),
          now: this.clock().toISOString(),
          actor: otaActor,
        },
      });
      for (const event of events) {
        const outcome = event.type === 'DeviceUpdateApplied' ? 'applied' : 'failed';
        for (const listener of this.listeners) listener(body.rolloutId, deviceId, outcome);
      }
    } catch (error) {
      if (!(error instanceof CommandRejected)) throw error;
      this.logger.warn(
        { event: 'ota.update_report_refused', deviceId, rolloutId: body.rolloutId, reason: error.reason },
        'update report refused',
      );
    }
  }
}
