/**
 * CertifyDevices' window: the CSR requests one CA instance keeps outstanding. A device is asked
 * (CsrRequested recorded first, on `ca.csr-request.<requestId>`, then the csr-request sent) only when fewer than
 * `csrWindow` requests are outstanding, so no request waits minutes in a device's queue. A request
 * leaves the window when its answer is recorded (CertificateIssued or CertificateRejected, on any
 * instance: the pending-csr-requests view says so), when it expires, or when the device is revoked.
 *
 * Every second the job sweeps the window: a device that has not answered within `csrRetrySeconds`
 * is asked again with the same requestId (issuance is idempotent per requestId, so the answer is
 * issued once), the wait doubling after each ask; a request unanswered `csrExpirySeconds` after its
 * first ask is given up, recorded as CsrRequestExpired. At start the job resumes the requests the
 * log still lists as pending (recorded, never answered), each asked again at once; after that, a
 * pending request no instance here holds and still unanswered two retry waits after its first ask
 * (its instance crashed, a replica's survivor takes it over) is taken over the same way: asking a
 * request another live instance holds too costs a second ask, never a second certificate. The devices not
 * asked yet are in the log too (CsrRequestsQueued, recorded by CertifyDevices before it answers): an
 * instance that starts asks every one the view lists as queued, and a survivor the ones queued two
 * retry waits ago that no instance here holds, so a crash loses none of a command's devices.
 */
import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CsrRequestMessage, parseTlsKeyId, tlsKeyId } from '@tunnelkey/contracts';
import { OutstandingWindow, PeriodicTask, type Outstanding } from '@tunnelkey/concurrency';
import type { DownlinkPublisher } from '@tunnelkey/device-protocol';
import {
  AggregateStateCache,
  derivedCommandId,
  describeError,
  handleCommand,
  type EventStore,
} from '@tunnelkey/eventstore';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConnectionWatch, EVENT_STORE, METRICS_REGISTRY, NATS_CONNECTION } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { caActor } from '../authority/certificate-authority.js';
import type { CaConfig } from '../config.js';
import { CA_CONFIG, CA_LOGGER, CLOCK, DOWNLINKS, type Clock } from '../tokens.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';
import { PendingCsrRequestsView } from '../views/pending-csr-requests.view.js';
import {
  csrRequestDecider,
  csrRequestStream,
  type CsrRequestCommand,
  type CsrRequestState,
} from './csr-request.decider.js';

/** One device to ask for a CSR. */
export interface CsrAsk {
  deviceId: string;
  requestId: string;
  keyId: string;
  /** The CertifyDevices command it comes from. */
  correlationId: string;
}

/** A request recorded before (found pending in the log at start): its expiry stands. */
interface RecordedAsk extends CsrAsk {
  expiresAt: number;
}

/** The window's item: the ask, and whether CsrRequested is in the log (else recording it is retried before the next ask). */
interface AskItem extends CsrAsk {
  recorded: boolean;
}

type Entry = Outstanding<AskItem>;

const sweepEveryMs = 1_000;
/** csr-requests being recorded and sent at once: a batch of 10,000 devices must not swamp the bus. */
const maxConcurrentAsks = 64;

@Injectable()
export class CsrRequestsJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #window: OutstandingWindow<AskItem>;
  /** The request streams this instance wrote; a request not seen yet is new (recorded without a read). */
  readonly #requests = new AggregateStateCache<CsrRequestState>({ maxStreams: 20_000 });
  readonly #retryMs: number;
  readonly #expiryMs: number;
  readonly #stopListening: () => void;
  readonly #counted: Counter<'outcome'> | undefined;
  readonly #task = new PeriodicTask(() => this.#sweep(), sweepEveryMs);
  #watch: ConnectionWatch | undefined;
  #started = false;
  #stopped = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly pending: PendingCsrRequestsView,
    private readonly eligibility: DeviceEligibilityView,
    @Inject(DOWNLINKS) private readonly downlinks: DownlinkPublisher,
    @Inject(CA_CONFIG) config: Pick<CaConfig, 'csrWindow' | 'csrRetrySeconds' | 'csrExpirySeconds'>,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
    @Optional() @Inject(METRICS_REGISTRY) metrics?: Registry,
    @Optional() @Inject(NATS_CONNECTION) private readonly nats?: NatsConnection,
  ) {
    this.#window = new OutstandingWindow<AskItem>({
      size: config.csrWindow,
      retryMs: config.csrRetrySeconds * 1000,
      concurrentAttempts: maxConcurrentAsks,
      now: () => this.clock().getTime(),
      attempt: (entry) => this.#askNow(entry),
      onError: (error, entry) =>
        entry
          ? // Not expected (#askNow handles the log and the bus being out of reach): the sweep asks again.
            this.logger.error(
              { event: 'ca.csr_request_failed', deviceId: entry.item.deviceId, error: describeError(error) },
              'CSR request failed; asked again at the next sweep',
            )
          : this.logger.error({ event: 'ca.csr_requests_failed', error: describeError(error) }, 'CSR requests stopped'),
    });
    this.#retryMs = config.csrRetrySeconds * 1000;
    this.#expiryMs = config.csrExpirySeconds * 1000;
    this.#stopListening = pending.onSettled((requestId) => this.#window.release(requestId));
    if (metrics) {
      this.#counted = new Counter({
        name: 'ca_csr_requests_total',
        help: 'CSR requests of CertifyDevices: first asks, asks again, requests given up unanswered',
        labelNames: ['outcome'],
        registers: [metrics],
      });
      const sizes = () => ({ outstanding: this.outstanding, queued: this.queued, pending: this.pending.size });
      new Gauge({
        name: 'ca_csr_requests',
        help: "CSR requests: outstanding in this instance's window, queued for room in it, pending in the log (all instances)",
        labelNames: ['state'],
        registers: [metrics],
        collect() {
          for (const [state, size] of Object.entries(sizes())) this.set({ state }, size);
        },
      });
    }
  }

  /** Requests in the window: asked (or being asked), not answered or given up yet. */
  get outstanding(): number {
    return this.#window.outstanding;
  }

  /** Devices waiting for room in the window. */
  get queued(): number {
    return this.#window.queued;
  }

  onApplicationBootstrap(): void {
    if (this.#started) return; // the hybrid app bootstraps twice: resume once
    this.#started = true;
    this.resume();
    this.#task.start();
    // Asks sent just before the bus went away may be lost with it: asked again as soon as it is back.
    if (this.nats) this.#watch = new ConnectionWatch(this.nats, () => void this.#window.dueNow());
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    this.#watch?.stop();
    this.#stopListening();
    await this.#task.stop();
    // Frees every slot: the devices still queued pass through without being asked.
    await this.#window.close();
  }

  /**
   * Queues the devices' requests and returns at once; each device is asked when the window has
   * room. A request this instance has outstanding already (a retried command) is asked again now.
   */
  ask(asks: readonly CsrAsk[]): void {
    this.#enqueue(asks);
  }

  /**
   * Takes over the requests the log lists as pending or queued (at start, after a restart): each is
   * asked (again) when the window has room, or a pending one given up at the next sweep if it
   * expired meanwhile.
   */
  resume(): number {
    return this.#takeOver(
      () => true,
      () => true,
    );
  }

  /**
   * Pending requests this window does not hold and `selectPending` picks, asked again with their
   * recorded expiry; queued ones it does not hold and `selectQueued` picks, asked as new.
   */
  #takeOver(
    selectPending: (pending: { expiresAt: string }) => boolean,
    selectQueued: (queued: { queuedAt: string }) => boolean,
  ): number {
    const resumed = this.pending
      .pending()
      .filter((p) => !this.#window.tracks(p.requestId) && selectPending(p))
      .map(({ deviceId, requestId, keyId, correlationId, expiresAt }) => ({
        deviceId,
        requestId,
        keyId,
        correlationId,
        expiresAt: Date.parse(expiresAt),
      }));
    const queued = this.pending
      .queued()
      .filter((q) => !this.#window.tracks(q.requestId) && selectQueued(q))
      .map(({ deviceId, requestId, keyId, correlationId }) => ({ deviceId, requestId, keyId, correlationId }));
    if (resumed.length + queued.length > 0) {
      this.logger.info(
        { event: 'ca.csr_requests_resumed', requests: resumed.length, queued: queued.length },
        'pending and queued CSR requests resumed',
      );
      this.#enqueue([...resumed, ...queued]);
    }
    return resumed.length + queued.length;
  }

  /** Asks again the devices due, gives up the requests expired; one sweep at a time. */
  sweep(): Promise<void> {
    return this.#task.runNow();
  }

  /** Resolves once nothing is being recorded or sent and the window has taken what it has room for (tests). */
  idle(): Promise<void> {
    return this.#window.idle();
  }

  #enqueue(asks: readonly (CsrAsk | RecordedAsk)[]): void {
    if (this.#stopped) return;
    this.#window.add(
      asks.map((ask) => ({
        key: ask.requestId,
        item: {
          deviceId: ask.deviceId,
          requestId: ask.requestId,
          // An operator names the generation (`tls-0`); a transferred device is asked for it under its owner epoch.
          keyId: keyIdInEpoch(ask.keyId, this.eligibility.facts(ask.deviceId).device?.ownerEpoch ?? 0),
          correlationId: ask.correlationId,
          recorded: 'expiresAt' in ask,
        },
        // A recorded request keeps its expiry; a new one expires counting from its first ask.
        ...('expiresAt' in ask ? { expiresAt: ask.expiresAt } : { expiresAfterMs: this.#expiryMs }),
      })),
    );
  }

  /**
   * Records the request if it is not yet, then sends it; true when sent. A device with nothing to
   * ask leaves the window; a request past its expiry waits for the sweep to give it up.
   */
  async #askNow(entry: Entry): Promise<boolean> {
    if (!this.#window.holds(entry)) return false; // answered meanwhile
    if (this.clock().getTime() >= entry.expiresAt) return false;
    if (!entry.item.recorded) {
      let ask: boolean;
      try {
        ask = await this.#record(entry);
      } catch (error) {
        // The log is out of reach: try again at the next ask's time, within the request's expiry.
        this.#window.retryLater(entry);
        this.logger.warn(
          { event: 'ca.csr_request_not_recorded', deviceId: entry.item.deviceId, error: describeError(error) },
          'CSR request not recorded; not sent',
        );
        return false;
      }
      if (!ask) {
        // Answered or given up before (a retried command), or the device is revoked: nothing to ask.
        this.#window.release(entry.key);
        return false;
      }
      entry.item.recorded = true;
    }
    return this.#send(entry);
  }

  /** Records CsrRequested (once per request); true when the device is to be asked. */
  async #record(entry: Entry): Promise<boolean> {
    const { deviceId, requestId, keyId } = entry.item;
    if (this.eligibility.facts(deviceId).device?.revoked) {
      this.logger.debug({ event: 'ca.csr_request_skipped', deviceId, reason: 'device-revoked' }, 'device not asked');
      return false;
    }
    const command: CsrRequestCommand = {
      type: 'RecordCsrRequest',
      data: { deviceId, requestId, keyId, expiresAt: new Date(entry.expiresAt).toISOString() },
      metadata: {
        commandId: derivedCommandId(requestId, 'requested'),
        correlationId: entry.item.correlationId,
        now: this.clock().toISOString(),
        actor: caActor,
      },
    };
    const stream = csrRequestStream(requestId);
    const { events, alreadyHandled, state } = await handleCommand({
      store: this.store,
      decider: csrRequestDecider,
      stream,
      cache: this.#requests.assumeNew(stream, csrRequestDecider.initialState),
      command,
      logger: this.logger,
    });
    if (events.length > 0 && !alreadyHandled) return true;
    // Recorded before (a retried command, a restart): asked while the log says it is still pending.
    if (state.status !== 'Requested' || !this.pending.isPending(requestId)) return false;
    entry.expiresAt = Date.parse(state.request.expiresAt);
    return true;
  }

  async #send(entry: Entry): Promise<boolean> {
    if (!this.#window.holds(entry)) return false;
    const asks = this.#window.sent(entry);
    this.#counted?.inc({ outcome: asks === 1 ? 'asked' : 'asked-again' });
    try {
      await this.downlinks.send(CsrRequestMessage, entry.item.deviceId, {
        requestId: entry.item.requestId,
        keyId: entry.item.keyId,
      });
      return true;
    } catch (error) {
      this.logger.warn(
        { event: 'ca.csr_request_not_sent', deviceId: entry.item.deviceId, error: describeError(error) },
        'CSR request not sent; asked again later',
      );
      return false;
    }
  }

  async #sweep(): Promise<void> {
    if (this.#stopped) return;
    const now = this.clock().getTime();
    const { expired, due } = this.#window.due();
    // Pending in the log but tracked by no one here (asked by an instance gone since): given up
    // too, a retry wait after their expiry, so the instance that asked them records its own.
    const orphans = this.pending
      .pending()
      .filter((p) => !this.#window.tracks(p.requestId) && Date.parse(p.expiresAt) + this.#retryMs <= now);
    // Pending, held by no one here, unanswered two retry waits after its first ask: taken over. So
    // is a request queued two retry waits ago and asked by no one yet (the instance that queued it
    // crashed before asking; a live one asking it too costs a second ask, never a certificate).
    this.#takeOver(
      ({ expiresAt }) => {
        const firstAsk = Date.parse(expiresAt) - this.#expiryMs;
        return firstAsk + 2 * this.#retryMs <= now && now < Date.parse(expiresAt);
      },
      ({ queuedAt }) => Date.parse(queuedAt) + 2 * this.#retryMs <= now,
    );
    const asked = await Promise.all(due.map((entry) => this.#window.run(() => this.#askNow(entry))));
    const reasked = asked.filter(Boolean).length;
    const given = await Promise.all([
      ...expired.map((entry) => this.#window.run(() => this.#expire(entry.item, entry.attempts))),
      ...orphans.map((pending) => this.#window.run(() => this.#expire({ ...pending, recorded: true }))),
    ]);
    const givenUp = given.filter(Boolean).length;
    if (reasked > 0)
      this.logger.info(
        { event: 'ca.csr_requests_asked_again', devices: reasked, outstanding: this.outstanding },
        'devices asked again for a CSR',
      );
    if (givenUp > 0)
      this.logger.warn(
        { event: 'ca.csr_requests_expired', devices: givenUp, outstanding: this.outstanding },
        'CSR requests given up unanswered (CsrRequestExpired)',
      );
  }

  /** Records CsrRequestExpired (unless answered first) and frees the slot; true when given up now. */
  async #expire(
    request: { deviceId: string; requestId: string; correlationId: string; recorded: boolean },
    asks?: number,
  ): Promise<boolean> {
    const { deviceId, requestId } = request;
    if (!request.recorded) {
      // Never in the log (it was out of reach): nothing to record, the device was never asked.
      this.logger.warn(
        { event: 'ca.csr_request_expired', deviceId, requestId, recorded: false },
        'CSR request given up',
      );
      this.#window.release(requestId);
      return true;
    }
    const command: CsrRequestCommand = {
      type: 'RecordCsrRequestExpiry',
      data: { deviceId, requestId, ...(asks !== undefined ? { asks } : {}) },
      metadata: {
        commandId: derivedCommandId(requestId, 'expired'),
        correlationId: request.correlationId,
        now: this.clock().toISOString(),
        actor: caActor,
      },
    };
    try {
      const stream = csrRequestStream(requestId);
      const { events, alreadyHandled } = await handleCommand({
        store: this.store,
        decider: csrRequestDecider,
        stream,
        cache: this.#requests.assumeNew(stream, csrRequestDecider.initialState),
        command,
        logger: this.logger,
      });
      this.#window.release(requestId);
      const givenUp = events.length > 0 && !alreadyHandled;
      if (givenUp) this.#counted?.inc({ outcome: 'expired' });
      if (givenUp)
        this.logger.debug({ event: 'ca.csr_request_expired', deviceId, requestId, asks }, 'CSR request given up');
      return givenUp;
    } catch (error) {
      // Stays in the window: the next sweep tries again.
      this.logger.warn(
        { event: 'ca.csr_request_expiry_not_recorded', deviceId, requestId, error: describeError(error) },
        'CSR request expiry not recorded',
      );
      return false;
    }
  }
}

/** `tls-<n>` under owner epoch `epoch` (`tls-<epoch>-<n>`); a key id naming its epoch, or the enrolment key, as it is. */
export function keyIdInEpoch(keyId: string, epoch: number): string {
  const tls = /^tls-\d+$/.test(keyId) ? parseTlsKeyId(keyId) : undefined;
  return tls ? tlsKeyId(tls.generation, epoch) : keyId;
}
