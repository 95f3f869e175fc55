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
 * log still lists as pending (recorded, never answered), each asked again at once. The devices not
 * asked yet are held in memory only: a command cut short by a restart is finished by retrying it
 * (same commandId, hence the same requestIds; the requests answered already are not asked again).
 */
import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CsrRequestMessage } from '@tunnelkey/contracts';
import { ConcurrencyLimiter, mapBounded } from '@tunnelkey/concurrency';
import type { DownlinkPublisher } from '@tunnelkey/device-protocol';
import {
  AggregateStateCache,
  derivedCommandId,
  describeError,
  handleCommand,
  type EventStore,
} from '@tunnelkey/eventstore';
import { EVENT_STORE, METRICS_REGISTRY } from '@tunnelkey/messaging';
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

interface Outstanding extends CsrAsk {
  /** CsrRequested is in the log (else recording it is retried before the next ask). */
  recorded: boolean;
  /** ms since the epoch; from the first ask. */
  expiresAt: number;
  /** csr-requests sent so far. */
  asks: number;
  nextAskAt: number;
  /** Frees the request's slot in the window. */
  release: () => void;
}

const sweepEveryMs = 1_000;
/** csr-requests being recorded and sent at once: a batch of 10,000 devices must not swamp the bus. */
const maxConcurrentAsks = 64;

@Injectable()
export class CsrRequestsJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #window: ConcurrencyLimiter;
  readonly #asks = new ConcurrencyLimiter(maxConcurrentAsks);
  readonly #outstanding = new Map<string, Outstanding>();
  /** The request streams this instance wrote; a request not seen yet is new (recorded without a read). */
  readonly #requests = new AggregateStateCache<CsrRequestState>({ maxStreams: 20_000 });
  readonly #retryMs: number;
  readonly #expiryMs: number;
  readonly #stopListening: () => void;
  readonly #counted: Counter<'outcome'> | undefined;
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;
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
  ) {
    this.#window = new ConcurrencyLimiter(config.csrWindow);
    this.#retryMs = config.csrRetrySeconds * 1000;
    this.#expiryMs = config.csrExpirySeconds * 1000;
    this.#stopListening = pending.onSettled((requestId) => this.#release(requestId));
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
    return this.#outstanding.size;
  }

  /** Devices waiting for room in the window. */
  get queued(): number {
    return this.#queued;
  }

  onApplicationBootstrap(): void {
    if (this.#timer) return;
    this.resume();
    this.#timer = setInterval(() => void this.sweep(), sweepEveryMs);
    this.#timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#stopListening();
    await this.#sweeping;
    // Frees every slot: the devices still queued pass through without being asked.
    for (const requestId of [...this.#outstanding.keys()]) this.#release(requestId);
    await this.#asks.idle();
    await this.#window.idle();
  }

  /**
   * Queues the devices' requests and returns at once; each device is asked when the window has
   * room. A request this instance has outstanding already (a retried command) is asked again now.
   */
  ask(asks: readonly CsrAsk[]): void {
    this.#enqueue(asks);
  }

  /**
   * Takes over the requests the log lists as pending (at start, after a restart): each is asked
   * again when the window has room, or given up at the next sweep if it expired meanwhile.
   */
  resume(): number {
    const resumed = this.pending
      .pending()
      .filter((p) => !this.#outstanding.has(p.requestId))
      .map(({ deviceId, requestId, keyId, correlationId, expiresAt }) => ({
        deviceId,
        requestId,
        keyId,
        correlationId,
        expiresAt: Date.parse(expiresAt),
      }));
    if (resumed.length > 0) {
      this.logger.info({ event: 'ca.csr_requests_resumed', requests: resumed.length }, 'pending CSR requests resumed');
      this.#enqueue(resumed);
    }
    return resumed.length;
  }

  /** Asks again the devices due, gives up the requests expired; one sweep at a time. */
  sweep(): Promise<void> {
    this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  /** Resolves once nothing is being recorded or sent and the window has taken what it has room for (tests). */
  async idle(): Promise<void> {
    do {
      await this.#asks.idle();
      await new Promise((resolve) => setImmediate(resolve));
    } while (this.#asks.active > 0 || this.#asks.waiting > 0);
  }

  #enqueue(asks: readonly (CsrAsk | RecordedAsk)[]): void {
    this.#queued += asks.length;
    // At most `limit` devices wait on the window per call; the rest stay in `asks`.
    mapBounded(asks, this.#window.limit, (ask) =>
      this.#window.run(() => {
        this.#queued--;
        return this.#track(ask);
      }),
    ).catch((error: unknown) =>
      this.logger.error({ event: 'ca.csr_requests_failed', error: describeError(error) }, 'CSR requests stopped'),
    );
  }

  /** Holds one slot of the window from the first ask until the request is answered, expired or revoked. */
  async #track(ask: CsrAsk | RecordedAsk): Promise<void> {
    if (this.#stopped) return;
    const known = this.#outstanding.get(ask.requestId);
    if (known) {
      // A retried command: the request holds a slot already; ask again now, hold no second one.
      await this.#asks.run(() => this.#askNow(known));
      return;
    }
    const now = this.clock().getTime();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const entry: Outstanding = {
      deviceId: ask.deviceId,
      requestId: ask.requestId,
      keyId: ask.keyId,
      correlationId: ask.correlationId,
      recorded: 'expiresAt' in ask,
      expiresAt: 'expiresAt' in ask ? ask.expiresAt : now + this.#expiryMs,
      asks: 0,
      // Asked below; the sweep asks again only after the retry wait.
      nextAskAt: now + this.#retryMs,
      release,
    };
    this.#outstanding.set(ask.requestId, entry);
    try {
      await this.#asks.run(() => this.#askNow(entry));
    } catch (error) {
      // Not expected (#askNow handles the log and the bus being out of reach): the sweep asks again.
      this.logger.error(
        { event: 'ca.csr_request_failed', deviceId: entry.deviceId, error: describeError(error) },
        'CSR request failed; asked again at the next sweep',
      );
    }
    await released;
  }

  #release(requestId: string): void {
    const entry = this.#outstanding.get(requestId);
    if (!entry) return;
    this.#outstanding.delete(requestId);
    entry.release();
  }

  /**
   * Records the request if it is not yet, then sends it; true when sent. A device with nothing to
   * ask leaves the window; a request past its expiry waits for the sweep to give it up.
   */
  async #askNow(entry: Outstanding): Promise<boolean> {
    if (this.#outstanding.get(entry.requestId) !== entry) return false; // answered meanwhile
    if (this.clock().getTime() >= entry.expiresAt) return false;
    if (!entry.recorded) {
      let ask: boolean;
      try {
        ask = await this.#record(entry);
      } catch (error) {
        // The log is out of reach: try again at the next ask's time, within the request's expiry.
        entry.nextAskAt = this.clock().getTime() + this.#retryMs;
        this.logger.warn(
          { event: 'ca.csr_request_not_recorded', deviceId: entry.deviceId, error: describeError(error) },
          'CSR request not recorded; not sent',
        );
        return false;
      }
      if (!ask) {
        // Answered or given up before (a retried command), or the device is revoked: nothing to ask.
        this.#release(entry.requestId);
        return false;
      }
      entry.recorded = true;
    }
    return this.#send(entry);
  }

  /** Records CsrRequested (once per request); true when the device is to be asked. */
  async #record(entry: Outstanding): Promise<boolean> {
    const { deviceId, requestId, keyId } = entry;
    if (this.eligibility.facts(deviceId).device?.revoked) {
      this.logger.debug({ event: 'ca.csr_request_skipped', deviceId, reason: 'device-revoked' }, 'device not asked');
      return false;
    }
    const command: CsrRequestCommand = {
      type: 'RecordCsrRequest',
      data: { deviceId, requestId, keyId, expiresAt: new Date(entry.expiresAt).toISOString() },
      metadata: {
        commandId: derivedCommandId(requestId, 'requested'),
        correlationId: entry.correlationId,
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

  async #send(entry: Outstanding): Promise<boolean> {
    if (this.#outstanding.get(entry.requestId) !== entry) return false;
    entry.asks++;
    this.#counted?.inc({ outcome: entry.asks === 1 ? 'asked' : 'asked-again' });
    // 1, 2, 4, ... times the retry wait after the first, second, third ask.
    entry.nextAskAt = this.clock().getTime() + this.#retryMs * 2 ** Math.min(entry.asks - 1, 20);
    try {
      await this.downlinks.send(CsrRequestMessage, entry.deviceId, { requestId: entry.requestId, keyId: entry.keyId });
      return true;
    } catch (error) {
      this.logger.warn(
        { event: 'ca.csr_request_not_sent', deviceId: entry.deviceId, error: describeError(error) },
        'CSR request not sent; asked again later',
      );
      return false;
    }
  }

  async #sweep(): Promise<void> {
    if (this.#stopped) return;
    const now = this.clock().getTime();
    const expired: Outstanding[] = [];
    const due: Outstanding[] = [];
    for (const entry of this.#outstanding.values()) {
      if (now >= entry.expiresAt) expired.push(entry);
      else if (now >= entry.nextAskAt) due.push(entry);
    }
    // Pending in the log but tracked by no one here (asked by an instance gone since): given up
    // too, a retry wait after their expiry, so the instance that asked them records its own.
    const orphans = this.pending
      .pending()
      .filter((p) => !this.#outstanding.has(p.requestId) && Date.parse(p.expiresAt) + this.#retryMs <= now);
    const asked = await Promise.all(due.map((entry) => this.#asks.run(() => this.#askNow(entry))));
    const reasked = asked.filter(Boolean).length;
    const given = await Promise.all([
      ...expired.map((entry) => this.#asks.run(() => this.#expire(entry, entry.asks))),
      ...orphans.map((pending) => this.#asks.run(() => this.#expire({ ...pending, recorded: true }))),
    ]);
    const givenUp = given.filter(Boolean).length;
    if (reasked > 0)
      this.logger.info(
        { event: 'ca.csr_requests_asked_again', devices: reasked, outstanding: this.#outstanding.size },
        'devices asked again for a CSR',
      );
    if (givenUp > 0)
      this.logger.warn(
        { event: 'ca.csr_requests_expired', devices: givenUp, outstanding: this.#outstanding.size },
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
      this.#release(requestId);
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
      this.#release(requestId);
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
