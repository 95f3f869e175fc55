/**
 * Drives every running rollout: every OTA_TICK_MS (and at once after a command) it reads the
 * rollout-progress view caught up with the log, asks next-step what to do and does it, each step an
 * idempotent append: waves started and completed, devices offered (DeviceUpdateOffered recorded
 * first, then the offer sent) or skipped with their reason, offers past their deadline timed out.
 *
 * Offers are tracked requests in an OutstandingWindow (as the CA's CSR requests): sent when the
 * window has room, sent again at doubling intervals (OTA_OFFER_RETRY_MS) until the device answers
 * (its first chunk request or its report) or the deadline passes. An offer still unanswered
 * OTA_OFFER_ANSWER_SECONDS after its first send fails as `timeout` then, not at the deadline (900 s
 * by default): a silent device would hold a download slot, and its wave, all that time. At start
 * the offers the log lists as unanswered are taken over and sent again (their answer time starts
 * again: this instance cannot know who answered the last one), so a restart mid-wave loses none
 * and repeats none.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { UpdateOfferMessage, type DeviceBodyOf } from '@tunnelkey/contracts';
import { OutstandingWindow, PeriodicTask, mapBounded, type Outstanding } from '@tunnelkey/concurrency';
import { derivedCommandId, describeError } from '@tunnelkey/eventstore';
import { wrapContentKey } from '@tunnelkey/firmware';
import type { Logger } from 'pino';
import type { OtaConfig } from '../config.js';
import { otaActor, OtaWriter } from '../shared/ota-writer.js';
import { CLOCK, DOWNLINKS, OTA_CONFIG, OTA_LOGGER, type Clock, type DownlinkSender } from '../tokens.js';
import { FirmwareCatalogView } from '../views/firmware-catalog.view.js';
import { FleetView, firmwareKeysOf, type FleetDevice } from '../views/fleet.view.js';
import { RolloutProgressView, type RolloutProgress } from '../views/rollout-progress.view.js';
import { nextSteps, type RolloutStep } from './next-step.js';
import { RolloutContents } from './rollout-content.js';
import { createHash } from 'node:crypto';

interface OfferItem {
  rolloutId: string;
  deviceId: string;
  /** The offer's deadline (ms since the epoch): the entry expires earlier only for want of an answer. */
  deadline: number;
  /** Built once per offer in this process (the wrap is randomised): a resend is the same offer. */
  body?: DeviceBodyOf<typeof UpdateOfferMessage>;
}

const offerKey = (rolloutId: string, deviceId: string) => `${rolloutId}/${deviceId}`;
/** Appends in flight at once. */
const concurrentSteps = 64;
/** While ticks keep failing (the bus away), one warning per this long, with the count: not one per tick. */
const failureLogEveryMs = 10_000;

/** Timings the bench reads (offer sent -> boot report, per device). */
export interface OfferTimings {
  offered(rolloutId: string, deviceId: string, at: number): void;
}

@Injectable()
export class RolloutDriverJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #window: OutstandingWindow<OfferItem>;
  readonly #task: PeriodicTask;
  /** rolloutId -> the plan order (devices sorted by a digest of rollout and device id). */
  readonly #plans = new Map<string, { key: string; order: Map<string, string> }>();
  #started = false;
  #stopped = false;
  /** Ticks failed in a row, and when that was last logged (monotonic ms). */
  readonly #failures = { ticks: 0, loggedAt: 0 };
  /** ms spent wrapping content keys, and how many (the bench reads them). */
  readonly wraps = { count: 0, ms: 0 };

  constructor(
    private readonly writer: OtaWriter,
    private readonly progress: RolloutProgressView,
    private readonly fleet: FleetView,
    private readonly catalog: FirmwareCatalogView,
    private readonly contents: RolloutContents,
    @Inject(DOWNLINKS) private readonly downlinks: DownlinkSender,
    @Inject(OTA_CONFIG) private readonly config: OtaConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(OTA_LOGGER) private readonly logger: Logger,
  ) {
    this.#window = new OutstandingWindow<OfferItem>({
      size: config.offerWindow,
      retryMs: config.offerRetryMs,
      concurrentAttempts: concurrentSteps,
      now: () => this.clock().getTime(),
      attempt: (entry) => this.#send(entry),
      onError: (error, entry) =>
        this.logger.error(
          { event: 'ota.offer_failed', deviceId: entry?.item.deviceId, error: describeError(error) },
          'offer failed; sent again at the next tick',
        ),
    });
    this.#task = new PeriodicTask(() => this.#tick(), config.tickMs);
  }

  onApplicationBootstrap(): void {
    if (this.#started) return; // the hybrid app bootstraps twice
    this.#started = true;
    this.#resumeOffers();
    this.#task.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    await this.#task.stop();
    await this.#window.close();
  }

  /** Drives the rollouts now (after a command), or joins the drive in progress. */
  drive(): Promise<unknown> {
    return this.#task.runNow();
  }

  /** Resolves once no offer is being sent and the window has taken what it has room for (tests). */
  idle(): Promise<void> {
    return this.#window.idle();
  }

  /** The device answered its offer (a chunk request or a report): no more resends. */
  answered(rolloutId: string, deviceId: string): void {
    this.#window.release(offerKey(rolloutId, deviceId));
  }

  get outstandingOffers(): number {
    return this.#window.outstanding;
  }

  /** The offers the log lists as unanswered, taken over after a restart. */
  #resumeOffers(): void {
    const now = this.clock().getTime();
    for (const progress of this.progress.active()) {
      const { rolloutId } = progress.rollout.started;
      const offers = [...progress.devices]
        .filter(([, d]) => d.status === 'offered' && d.deadline && Date.parse(d.deadline) > now)
        .map(([deviceId, d]) => ({ deviceId, expiresAt: Date.parse(d.deadline!) }));
      if (offers.length === 0) continue;
      this.logger.info({ event: 'ota.offers_resumed', rolloutId, offers: offers.length }, 'unanswered offers resumed');
      this.#window.add(
        offers.map(({ deviceId, expiresAt }) => ({
          key: offerKey(rolloutId, deviceId),
          item: { rolloutId, deviceId, deadline: expiresAt },
          expiresAt,
        })),
      );
    }
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    try {
      // Caught up with the log: a step recorded by the last tick must not be taken again.
      await Promise.all([this.progress.catchUp(), this.fleet.catchUp()]);
      const rollouts = [...this.progress.state.values()];
      const openOffers = (p: RolloutProgress) => [...p.devices.values()].filter((d) => d.status === 'offered').length;
      let downloading = rollouts.reduce((n, p) => n + openOffers(p), 0);
      for (const progress of rollouts) {
        const { status } = progress.rollout;
        if (status !== 'Running' && status !== 'Paused' && openOffers(progress) === 0) continue;
        downloading += await this.#advance(progress, downloading);
      }
      await this.#expire(this.#window.due().expired);
      // An aborted rollout sends no offer again (a device already under way may still report).
      for (const entry of this.#window.entries())
        if (this.progress.get(entry.item.rolloutId)?.rollout.status === 'Aborted') this.#window.release(entry.key);
      await Promise.all(this.#window.due().due.map((entry) => this.#window.run(() => this.#send(entry))));
      this.#recovered();
    } catch (error) {
      this.#failed(error);
    }
  }

  /**
   * Entries past their expiry leave the window. At the deadline the log's own timeout step fails
   * the device (nextSteps); before it, the offer went unanswered: failed here, once recorded.
   */
  async #expire(expired: Outstanding<OfferItem>[]): Promise<void> {
    const unanswered = expired.filter((entry) => entry.expiresAt < entry.item.deadline);
    for (const entry of expired) if (!unanswered.includes(entry)) this.#window.release(entry.key);
    await mapBounded(unanswered, concurrentSteps, async (entry) => {
      const { rolloutId, deviceId } = entry.item;
      // An aborted rollout's offers are dropped below, not failed.
      if (this.progress.get(rolloutId)?.rollout.status === 'Aborted') return;
      const waitedSeconds = this.config.offerAnswerSeconds;
      try {
        await this.writer.recordDevice(deviceId, {
          type: 'RecordOfferUnanswered',
          data: { rolloutId, waitedSeconds },
          metadata: {
            commandId: derivedCommandId(rolloutId, deviceId, 'unanswered'),
            correlationId: rolloutId,
            now: this.clock().toISOString(),
            actor: otaActor,
          },
        });
        this.#window.release(entry.key);
        this.logger.info(
          { event: 'ota.offer_unanswered', rolloutId, deviceId, waitedSeconds, attempts: entry.attempts },
          'offer not answered: the device failed with timeout',
        );
      } catch (error) {
        // Kept (expired: not sent again): recorded at the next tick.
        this.logger.warn(
          { event: 'ota.offer_unanswered_not_recorded', rolloutId, deviceId, error: describeError(error) },
          'unanswered offer not recorded; next tick',
        );
      }
    });
  }

  #failed(error: unknown): void {
    const failures = this.#failures;
    failures.ticks++;
    const now = performance.now();
    if (failures.ticks > 1 && now - failures.loggedAt < failureLogEveryMs) return;
    failures.loggedAt = now;
    this.logger.warn(
      { event: 'ota.drive_failed', failedTicks: failures.ticks, error: describeError(error) },
      'rollouts not driven; trying again every tick',
    );
  }

  #recovered(): void {
    if (this.#failures.ticks === 0) return;
    this.logger.info({ event: 'ota.drive_recovered', failedTicks: this.#failures.ticks }, 'rollouts driven again');
    this.#failures.ticks = 0;
  }

  /** Takes the rollout's next steps; returns how many devices it offered. */
  async #advance(progress: RolloutProgress, downloading: number): Promise<number> {
    const started = progress.rollout.started;
    const plan = this.#plan(started.rolloutId, started.batchIds);
    const steps = nextSteps(progress, plan, this.clock().getTime());
    // Offers only while fewer than OTA_DOWNLOAD_WINDOW devices download: the others wait in line
    // (offered at a later tick) rather than all asking for chunks at once, queueing behind each
    // other past their stall timers and asking again (1,000 devices sent 2.4x their bytes that way).
    const room = Math.max(0, this.config.downloadWindow - downloading);
    const offers = new Set<RolloutStep>(steps.filter((s) => s.kind === 'offer').slice(0, room));
    const isPerDevice = (s: RolloutStep) => s.kind === 'offer' || s.kind === 'skip' || s.kind === 'timeout';
    // Per-device steps run side by side; then the rollout's own, in order.
    const perDevice = steps.filter((s) => offers.has(s) || (isPerDevice(s) && s.kind !== 'offer'));
    await mapBounded(perDevice, concurrentSteps, (step) => this.#take(progress, step));
    for (const step of steps) if (!isPerDevice(step)) await this.#take(progress, step);
    return offers.size;
  }

  /** The rollout's devices in plan order: a digest of rollout and device id spreads the waves over the batches. */
  #plan(rolloutId: string, batchIds: readonly string[]): FleetDevice[] {
    const devices = this.fleet.devicesOf(batchIds);
    let plan = this.#plans.get(rolloutId);
    if (!plan || plan.key !== `${devices.length}`) {
      const order = new Map(
        devices.map((d) => [d.deviceId, createHash('sha256').update(`${rolloutId}\u0000${d.deviceId}`).digest('hex')]),
      );
      plan = { key: `${devices.length}`, order };
      this.#plans.set(rolloutId, plan);
    }
    const order = plan.order;
    return devices.sort((a, b) => (order.get(a.deviceId)! < order.get(b.deviceId)! ? -1 : 1));
  }

  async #take(progress: RolloutProgress, step: RolloutStep): Promise<void> {
    const started = progress.rollout.started;
    const { rolloutId, firmwareId } = started;
    const now = this.clock();
    const metadata = (...parts: string[]) => ({
      commandId: derivedCommandId(rolloutId, ...parts),
      correlationId: rolloutId,
      now: now.toISOString(),
      actor: otaActor,
    });
    switch (step.kind) {
      case 'start-wave':
        await this.writer.recordRollout(rolloutId, {
          type: 'StartWave',
          data: { wave: step.wave, size: step.size },
          metadata: metadata('wave', `${step.wave}`, 'started'),
        });
        this.logger.info({ event: 'ota.wave_started', rolloutId, wave: step.wave, size: step.size }, 'wave started');
        return;
      case 'complete-wave': {
        const { kind: _kind, ...counts } = step;
        const { events } = await this.writer.recordRollout(rolloutId, {
          type: 'CompleteWave',
          data: counts,
          metadata: metadata('wave', `${step.wave}`, 'completed'),
        });
        const paused = events.find((e) => e.type === 'RolloutPaused');
        this.logger.info(
          { event: 'ota.wave_completed', rolloutId, ...counts, paused: paused !== undefined },
          'wave completed',
        );
        return;
      }
      case 'complete-rollout':
        await this.writer.recordRollout(rolloutId, {
          type: 'CompleteRollout',
          data: {},
          metadata: metadata('completed'),
        });
        this.logger.info({ event: 'ota.rollout_completed', rolloutId }, 'rollout completed');
        return;
      case 'skip':
        await this.writer.recordDevice(step.deviceId, {
          type: 'SkipDevice',
          data: { deviceId: step.deviceId, rolloutId, firmwareId, reason: step.reason, wave: step.wave },
          metadata: metadata(step.deviceId, 'skipped'),
        });
        return;
      case 'timeout':
        this.#window.release(offerKey(rolloutId, step.deviceId));
        await this.writer.recordDevice(step.deviceId, {
          type: 'RecordUpdateTimeout',
          data: { rolloutId },
          metadata: metadata(step.deviceId, 'timed-out'),
        });
        return;
      case 'offer': {
        const deadline = new Date(now.getTime() + started.deadlineSeconds * 1000);
        const { events, alreadyHandled } = await this.writer.recordDevice(step.deviceId, {
          type: 'OfferUpdate',
          data: {
            deviceId: step.deviceId,
            rolloutId,
            firmwareId,
            version: started.version,
            wave: step.wave,
            imageDigest: started.imageDigest,
            deadline: deadline.toISOString(),
          },
          metadata: metadata(step.deviceId, 'offered'),
        });
        if (events.length === 0 || alreadyHandled) return;
        const recordedDeadline = Date.parse((events[0]!.data as { deadline: string }).deadline);
        this.#window.add([
          {
            key: offerKey(rolloutId, step.deviceId),
            item: { rolloutId, deviceId: step.deviceId, deadline: recordedDeadline },
            expiresAt: recordedDeadline,
          },
        ]);
        return;
      }
      default: {
        const unknown: never = step;
        throw new Error(`unknown step ${(unknown as RolloutStep).kind}`);
      }
    }
  }

  /** Sends (again) one offer; true when sent. */
  async #send(entry: Outstanding<OfferItem>): Promise<boolean> {
    if (!this.#window.holds(entry) || this.clock().getTime() >= entry.expiresAt) return false;
    const { rolloutId, deviceId } = entry.item;
    try {
      entry.item.body ??= await this.#offerBody(rolloutId, deviceId, new Date(entry.expiresAt));
      if (!entry.item.body) {
        this.#window.release(entry.key);
        return false;
      }
      // The answer is awaited from the first send on (not from the slot's taking, nor again at each resend).
      if (entry.attempts === 0)
        entry.expiresAt = Math.min(entry.item.deadline, this.clock().getTime() + this.config.offerAnswerSeconds * 1000);
      this.#window.sent(entry);
      await this.downlinks.send(UpdateOfferMessage, deviceId, entry.item.body);
      return true;
    } catch (error) {
      this.#window.retryLater(entry);
      this.logger.warn(
        { event: 'ota.offer_not_sent', rolloutId, deviceId, error: describeError(error) },
        'offer not sent',
      );
      return false;
    }
  }

  /** The offer: delegation, targets metadata, this device's wrap of the content key, the chunk layout. */
  async #offerBody(
    rolloutId: string,
    deviceId: string,
    deadline: Date,
  ): Promise<DeviceBodyOf<typeof UpdateOfferMessage> | undefined> {
    const started = this.progress.get(rolloutId)?.rollout.started;
    const released = started ? this.catalog.released(started.firmwareId) : undefined;
    const device = this.fleet.device(deviceId);
    // A revoked device gets no wrap, nor does a key of an owner epoch before the device's current one.
    const keys = device && firmwareKeysOf(device);
    if (!started || !released || !keys || device.revoked) return undefined;
    const delegation = this.catalog.delegation(released.release.signingKeyId);
    if (!delegation) throw new Error(`no delegation recorded for ${released.release.signingKeyId}`);
    const { sizeBytes } = released.image;
    const content = await this.contents.get({
      rolloutId,
      imageDigest: started.imageDigest,
      sizeBytes,
      chunkSize: started.chunkSize,
    });
    const wrapStarted = performance.now();
    const wrap = wrapContentKey(
      content.contentKey,
      {
        ecdhPublicKey: new Uint8Array(Buffer.from(keys.ecdhPublicKey, 'base64')),
        mlKemPublicKey: new Uint8Array(Buffer.from(keys.mlKemPublicKey, 'base64')),
      },
      { deviceId, rolloutId },
    );
    this.wraps.count++;
    this.wraps.ms += performance.now() - wrapStarted;
    return {
      rolloutId,
      firmwareId: started.firmwareId,
      product: started.product,
      version: started.version,
      delegation: delegation.delegation,
      targets: released.release.targets,
      keyWrap: Buffer.from(wrap).toString('base64'),
      chunkSize: content.header.chunkSize,
      chunkCount: content.header.chunkCount,
      sizeBytes,
      deadline: deadline.toISOString(),
    };
  }
}
