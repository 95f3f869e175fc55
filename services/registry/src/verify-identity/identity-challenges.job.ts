/**
 * VerifyIdentity's window: the identity challenges one registry instance keeps outstanding
 * (`OutstandingWindow`, as the CA's CSR requests). A device is challenged (IdentityChallengeIssued
 * recorded first, nonce digest only, then the nonce sent) only when fewer than
 * `REGISTRY_CHALLENGE_WINDOW` challenges are outstanding, so no challenge waits minutes in a
 * device's queue and its expiry counts from when it is sent. A challenge leaves the window when the
 * device-by-id view sees it end (answered, failed for good, superseded, device revoked: on any
 * instance) or when it expires (recorded `no-response`, the unanswered-challenges path).
 *
 * Every second the job sweeps the window: a device that has not answered within
 * `REGISTRY_CHALLENGE_RETRY_SECONDS` is sent the same challenge again (same challengeId and nonce),
 * the wait doubling after each send. The decider matches an answer to the one challenge pending, so
 * the first good answer verifies the device and any copy after it is refused (unknown-challenge).
 *
 * The nonce is an HMAC under this process's secret: after a restart the pending challenges' nonces
 * are gone. At start the job takes over the challenges the log still lists as pending and not expired,
 * and re-issues each under a derived command id (`<challengeId>:reissued`): a new challengeId and
 * nonce digest, the first one's expiry kept, recorded only while the first is still the one pending
 * (`replaces`), so a challenge answered meanwhile is never reopened and an answer to the first one
 * finds no challenge. Two instances starting at once derive the same command: one records it, the
 * other finds another nonce digest and leaves it. A running instance does the same, at its sweep, for
 * a pending challenge it does not hold that is still unanswered two retry waits after it was issued
 * (its instance crashed: a replica's survivor takes it over). The devices not challenged yet are in
 * the log too (IdentityChallengesQueued, recorded by VerifyIdentity before it answers): one still
 * owed its challenge (enrolled, no challenge pending, none answered or given up since the command)
 * is challenged by an instance that starts, or by a survivor once the command is two retry waits
 * old, under the command's own derived id, so a crash loses none of a command's devices.
 */
import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { OutstandingWindow, PeriodicTask, type Outstanding } from '@tunnelkey/concurrency';
import { IdentityChallengeMessage } from '@tunnelkey/contracts';
import {
  derivedCommandId,
  derivedMetadata,
  describeError,
  handleCommand,
  isCommandRejected,
  type EventStore,
} from '@tunnelkey/eventstore';
import type { CommandMetadata } from '@tunnelkey/contracts';
import { ConnectionWatch, EVENT_STORE, NATS_CONNECTION } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config.js';
import { deviceDecider } from '../deciders/device.decider.js';
import type { Downlinks } from '../downlink-port/downlinks.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { RegistryMetrics } from '../shared/registry-metrics.js';
import { deviceStream } from '../shared/registry-streams.js';
import { DOWNLINKS, REGISTRY_CLOCK, REGISTRY_CONFIG, REGISTRY_LOGGER } from '../tokens.js';
import { isEnrolled } from '../deciders/device-state.js';
import { DeviceByIdView, type PendingChallengeRef } from '../views/device-by-id.view.js';
import { QueuedChallengesView, type QueuedVerification } from '../views/queued-challenges.view.js';
import { ChallengeNonces, type Challenge } from './challenge-nonces.js';
import { UnansweredChallengesJob } from './unanswered-challenges.job.js';

/** One device to challenge, from a VerifyIdentity command. */
export interface ChallengeAsk {
  deviceId: string;
  /** The command's metadata derived for this device (`<commandId>:<deviceId>`). */
  metadata: CommandMetadata;
}

interface ChallengeItem extends Challenge {
  deviceId: string;
  metadata: CommandMetadata;
  /** Re-issued after a restart: recorded only while this challenge is still the one pending. */
  replaces?: string;
  /** IdentityChallengeIssued is in the log with this nonce's digest. */
  recorded: boolean;
}

type Entry = Outstanding<ChallengeItem>;

const sweepEveryMs = 1_000;

@Injectable()
export class IdentityChallengesJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #nonces = new ChallengeNonces();
  readonly #window: OutstandingWindow<ChallengeItem>;
  readonly #ttlMs: number;
  readonly #retryMs: number;
  readonly #stopListening: () => void;
  readonly #task = new PeriodicTask(() => this.#sweep(), sweepEveryMs);
  /** Commands none of whose queued devices is owed a challenge any more (it stays so). */
  readonly #settledCommands = new Set<string>();
  #watch: ConnectionWatch | undefined;
  #started = false;
  #stopped = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly devices: DeviceByIdView,
    private readonly queuedChallenges: QueuedChallengesView,
    private readonly deviceStates: DeviceStateCache,
    private readonly unanswered: UnansweredChallengesJob,
    @Inject(DOWNLINKS) private readonly downlinks: Downlinks,
    private readonly metrics: RegistryMetrics,
    @Inject(REGISTRY_CONFIG)
    config: Pick<
      RegistryConfig,
      'challengeWindow' | 'challengeRetrySeconds' | 'challengeTtlSeconds' | 'bulkConcurrency'
    >,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
    @Optional() @Inject(NATS_CONNECTION) private readonly nats?: NatsConnection,
  ) {
    this.#ttlMs = config.challengeTtlSeconds * 1000;
    this.#retryMs = config.challengeRetrySeconds * 1000;
    this.#window = new OutstandingWindow<ChallengeItem>({
      size: config.challengeWindow,
      retryMs: config.challengeRetrySeconds * 1000,
      concurrentAttempts: config.bulkConcurrency,
      now: () => this.clock().getTime(),
      attempt: (entry) => this.#challengeNow(entry),
      onError: (error, entry) =>
        entry
          ? // Not expected (#challengeNow handles the log and the bus being out of reach): the sweep sends again.
            this.logger.error(
              {
                event: 'registry.identity_challenge_failed',
                deviceId: entry.item.deviceId,
                error: describeError(error),
              },
              'identity challenge failed; sent again at the next sweep',
            )
          : this.logger.error(
              { event: 'registry.identity_challenges_failed', error: describeError(error) },
              'identity challenges stopped',
            ),
    });
    this.#stopListening = devices.onChallengeClosed((_deviceId, challengeId) => this.#window.release(challengeId));
  }

  /** Challenges in the window: sent (or being sent), not answered or expired yet. */
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
    // Challenges sent just before the bus went away may be lost with it: sent again as soon as it is back.
    if (this.nats) this.#watch = new ConnectionWatch(this.nats, () => void this.#window.dueNow());
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    this.#watch?.stop();
    this.#stopListening();
    await this.#task.stop();
    await this.#window.close();
  }

  /**
   * Queues the devices' challenges and returns at once; each device is challenged when the window
   * has room. A challenge outstanding here already (a retried command) is sent again now.
   */
  challenge(asks: readonly ChallengeAsk[]): void {
    if (this.#stopped) return;
    this.#window.add(
      asks.map(({ deviceId, metadata }) => {
        const challenge = this.#nonces.challengeFor(metadata.commandId, deviceId);
        return {
          key: challenge.challengeId,
          item: { ...challenge, deviceId, metadata, recorded: false },
          expiresAfterMs: this.#ttlMs,
        };
      }),
    );
  }

  /**
   * Takes over the challenges the log lists as pending and not expired (at start, after a
   * restart): each is re-issued with a fresh nonce when the window has room. Expired ones are left
   * to the unanswered-challenges sweep.
   */
  resume(
    select: (pending: PendingChallengeRef) => boolean = () => true,
    selectQueued: (queued: QueuedVerification) => boolean = () => true,
  ): number {
    return this.#resumePending(select) + this.#resumeQueued(selectQueued);
  }

  /**
   * Challenges the devices queued by the commands `select` picks that are still owed one and that
   * this window does not hold: each under the command's own derived id (what its first instance
   * would have used), so a challenge recorded meanwhile is found, not issued twice.
   */
  #resumeQueued(select: (queued: QueuedVerification) => boolean): number {
    const asks: ChallengeAsk[] = [];
    const now = this.clock().toISOString();
    for (const command of this.queuedChallenges.commands()) {
      if (this.#settledCommands.has(command.commandId) || !select(command)) continue;
      const base: CommandMetadata = {
        commandId: command.commandId,
        correlationId: command.correlationId,
        now,
        actor: command.actor ?? { kind: 'service', id: 'registry' },
      };
      let owed = 0;
      for (const deviceId of command.deviceIds) {
        if (!this.#owed(deviceId, Date.parse(command.queuedAt))) continue;
        owed++;
        const metadata = derivedMetadata(base, deviceId);
        if (this.#window.tracks(this.#nonces.challengeFor(metadata.commandId, deviceId).challengeId)) continue;
        asks.push({ deviceId, metadata });
      }
      if (owed === 0) this.#settledCommands.add(command.commandId);
    }
    if (asks.length === 0) return 0;
    this.challenge(asks);
    this.logger.info(
      { event: 'registry.identity_challenges_resumed', queued: asks.length },
      'queued identity challenges taken up',
    );
    return asks.length;
  }

  /** Enrolled, no challenge pending, and none answered or given up since `since`: the command's challenge is owed. */
  #owed(deviceId: string, since: number): boolean {
    const state = this.devices.deviceState(deviceId);
    if (!state || !isEnrolled(state) || state.challenge) return false;
    if (state.verifiedAt && Date.parse(state.verifiedAt) >= since) return false;
    if (state.lastFailure && Date.parse(state.lastFailure.at) >= since) return false;
    return true;
  }

  #resumePending(select: (pending: PendingChallengeRef) => boolean): number {
    const now = this.clock();
    const resumed = this.devices
      .pendingChallenges()
      .filter(
        (pending) =>
          !this.#window.tracks(pending.challengeId) && Date.parse(pending.expiresAt) > now.getTime() && select(pending),
      );
    if (resumed.length === 0) return 0;
    this.#window.add(
      resumed.map(({ deviceId, challengeId, expiresAt }) => {
        const commandId = derivedCommandId(challengeId, 'reissued');
        const metadata: CommandMetadata = {
          commandId,
          correlationId: commandId,
          now: now.toISOString(),
          actor: { kind: 'service', id: 'registry' },
        };
        const challenge = this.#nonces.challengeFor(commandId, deviceId);
        return {
          key: challenge.challengeId,
          item: { ...challenge, deviceId, metadata, replaces: challengeId, recorded: false },
          expiresAt: Date.parse(expiresAt),
        };
      }),
    );
    this.logger.info(
      { event: 'registry.identity_challenges_resumed', challenges: resumed.length },
      'pending identity challenges re-issued',
    );
    return resumed.length;
  }

  /** Sends again the challenges due, gives up the expired ones; one sweep at a time. */
  sweep(): Promise<void> {
    return this.#task.runNow();
  }

  /** Resolves once nothing is being recorded or sent and the window has taken what it has room for (tests). */
  idle(): Promise<void> {
    return this.#window.idle();
  }

  /** Records the challenge if it is not yet, then sends it; true when sent. */
  async #challengeNow(entry: Entry): Promise<boolean> {
    if (!this.#window.holds(entry)) return false; // answered meanwhile
    if (this.clock().getTime() >= entry.expiresAt) return false; // the sweep gives it up
    if (!entry.item.recorded) {
      let challenge: boolean;
      try {
        challenge = await this.#record(entry);
      } catch (error) {
        // The log is out of reach: try again at the next send's time, within the challenge's expiry.
        this.#window.retryLater(entry);
        this.logger.warn(
          {
            event: 'registry.identity_challenge_not_recorded',
            deviceId: entry.item.deviceId,
            error: describeError(error),
          },
          'identity challenge not recorded; not sent',
        );
        return false;
      }
      if (!challenge) {
        this.#window.release(entry.key);
        return false;
      }
      entry.item.recorded = true;
    }
    return this.#send(entry);
  }

  /** Records IdentityChallengeIssued (once per challenge); true when this nonce is the one to send. */
  async #record(entry: Entry): Promise<boolean> {
    const { deviceId, challengeId, nonceDigest, replaces, metadata } = entry.item;
    const expiresAt = new Date(entry.expiresAt).toISOString();
    let issued;
    try {
      const result = await handleCommand({
        store: this.store,
        decider: deviceDecider,
        stream: deviceStream(deviceId),
        cache: this.deviceStates.for(deviceId),
        command: commandOf(
          'IssueIdentityChallenge',
          { deviceId, challengeId, nonceDigest, expiresAt, ...(replaces ? { replaces } : {}) },
          { ...metadata, now: this.clock().toISOString() },
        ),
        logger: this.logger,
      });
      issued = result.events.find((event) => event.type === 'IdentityChallengeIssued');
    } catch (error) {
      if (!isCommandRejected(error)) throw error;
      // Revoked, or no longer in a batch, since the command: nothing to ask.
      this.logger.debug(
        { event: 'registry.identity_challenge_skipped', deviceId, reason: error.reason },
        'device not challenged',
      );
      return false;
    }
    // Nothing issued (answered or closed before a re-issue), or served from the log holding another
    // process's nonce digest (a command retried after a restart): nothing this process can send.
    if (!issued || issued.data.nonceDigest !== nonceDigest) return false;
    entry.expiresAt = Date.parse(issued.data.expiresAt);
    return this.clock().getTime() < entry.expiresAt;
  }

  async #send(entry: Entry): Promise<boolean> {
    if (!this.#window.holds(entry)) return false;
    const sends = this.#window.sent(entry);
    if (sends === 1) this.metrics.challengesIssued.inc();
    const { deviceId, challengeId, nonce } = entry.item;
    try {
      await this.downlinks.send(IdentityChallengeMessage, deviceId, {
        challengeId,
        nonce,
        expiresAt: new Date(entry.expiresAt).toISOString(),
      });
      return true;
    } catch (error) {
      this.logger.warn(
        { event: 'registry.identity_challenge_not_sent', deviceId, error: describeError(error) },
        'identity challenge not sent; sent again later',
      );
      return false;
    }
  }

  async #sweep(): Promise<void> {
    if (this.#stopped) return;
    // Pending, held by no one here, unanswered two retry waits after it was issued: its instance is
    // gone (a replica crashed), so it is re-issued here. A re-issued challenge is issued anew, so two
    // live replicas do not take each other's over more than once per two retry waits.
    const now = this.clock().getTime();
    this.resume(
      ({ issuedAt, expiresAt }) => {
        const issued = issuedAt ? Date.parse(issuedAt) : Date.parse(expiresAt) - this.#ttlMs;
        return issued + 2 * this.#retryMs <= now;
      },
      // Queued two retry waits ago and still owed: the instance that queued it is gone (or slow;
      // a challenge it records first is found, not issued twice).
      ({ queuedAt }) => Date.parse(queuedAt) + 2 * this.#retryMs <= now,
    );
    const { expired, due } = this.#window.due();
    const sent = await Promise.all(due.map((entry) => this.#window.run(() => this.#challengeNow(entry))));
    const resent = sent.filter(Boolean).length;
    const given = await Promise.all(expired.map((entry) => this.#window.run(() => this.#expire(entry))));
    const givenUp = given.filter(Boolean).length;
    if (resent > 0)
      this.logger.info(
        { event: 'registry.identity_challenges_sent_again', devices: resent, outstanding: this.outstanding },
        'identity challenges sent again',
      );
    if (givenUp > 0)
      this.logger.warn(
        { event: 'registry.challenges_unanswered', devices: givenUp, outstanding: this.outstanding },
        'identity challenges expired unanswered',
      );
  }

  /** Records `no-response` (unless answered first) and frees the slot; true when recorded now. */
  async #expire(entry: Entry): Promise<boolean> {
    const { deviceId, challengeId, recorded } = entry.item;
    // Never in the log (it was out of reach): nothing to record, the device was never challenged.
    const given = recorded ? await this.unanswered.recordNoResponse({ deviceId, challengeId }) : false;
    this.#window.release(entry.key);
    return given;
  }
}
