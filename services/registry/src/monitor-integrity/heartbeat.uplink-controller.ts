import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import { deviceUplinkFilter, HeartbeatMessage } from '@tunnelkey/contracts';
import { DeviceMessageRejected, DeviceMessageVerifier, ReplayGuard } from '@tunnelkey/device-protocol';
import { describeError } from '@tunnelkey/eventstore';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config.js';
import { UplinkKeyResolver } from '../device-uplinks/uplink-key-resolver.js';
import type { Clock } from '../shared/clock.js';
import { RegistryMetrics } from '../shared/registry-metrics.js';
import { REGISTRY_CLOCK, REGISTRY_CONFIG, REGISTRY_LOGGER } from '../tokens.js';
import { HeartbeatHandler, type Heartbeat, type HeartbeatOutcome } from './heartbeat.handler.js';

const decoder = new TextDecoder();

/**
 * Heartbeats (`dev.<id>.heartbeat`): verified like every device message (size, contract, subject,
 * the enrolment key's signature, time window) before the judge sees them. Their counters have a
 * replay guard of their own: a counter it has seen is not simply dropped, since only the judge can
 * tell a replay (refused, nothing written) from a second device holding the key (a violation).
 * Nothing is answered: a refusal is a metric (`registry_heartbeats_total{outcome}`) and a log line
 * naming the device and the check that failed, never the payload.
 */
@Injectable()
export class HeartbeatUplinkController implements OnApplicationBootstrap, OnModuleDestroy {
  readonly verifier: DeviceMessageVerifier;
  readonly #limiter: ConcurrencyLimiter;
  readonly #inFlight = new Set<Promise<void>>();
  #subscription: Subscription | undefined;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    keys: UplinkKeyResolver,
    private readonly heartbeats: HeartbeatHandler,
    private readonly metrics: RegistryMetrics,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    @Inject(REGISTRY_CLOCK) clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {
    this.#limiter = new ConcurrencyLimiter(config.uplinkConcurrency);
    this.verifier = new DeviceMessageVerifier({
      direction: 'uplink',
      namespace: config.namespace,
      clock,
      resolveKey: keys.resolve,
      replayGuard: new ReplayGuard({ maxDevices: config.trackedDevices }),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.#subscription) return;
    const subject = deviceUplinkFilter(HeartbeatMessage.kind, this.config.namespace);
    // No queue group: every replica judges every heartbeat, so each holds every device's ledger
    // entry (a shared queue would give each replica part of a device's heartbeats, and silences
    // that are not). What they write has ids derived from the heartbeat: recorded once.
    this.#subscription = this.nats.subscribe(subject, {
      callback: (error, msg) => {
        if (error) {
          this.logger.error(
            { event: 'registry.heartbeat_subscription_failed', subject, error: describeError(error) },
            'heartbeat subscription failed',
          );
          return;
        }
        const handling = this.#limiter.run(async () => void (await this.handle(msg.subject, msg.data)));
        this.#inFlight.add(handling);
        void handling.finally(() => this.#inFlight.delete(handling));
      },
    });
    await this.nats.flush();
  }

  async onModuleDestroy(): Promise<void> {
    this.#subscription?.unsubscribe();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** One heartbeat end to end; returns what became of it (also counted and, when refused, logged). */
  async handle(subject: string, data: Uint8Array): Promise<HeartbeatOutcome | DeviceMessageRejected['code'] | 'error'> {
    let outcome: HeartbeatOutcome | DeviceMessageRejected['code'] | 'error';
    try {
      outcome = await this.heartbeats.handle(await this.#verified(subject, data));
    } catch (error) {
      if (error instanceof DeviceMessageRejected) outcome = error.code;
      else {
        outcome = 'error';
        this.logger.error(
          { event: 'registry.heartbeat_failed', subject, error: describeError(error) },
          'heartbeat could not be handled',
        );
      }
    }
    this.metrics.heartbeats.inc({ outcome });
    if (outcome !== 'accepted' && outcome !== 'violation' && outcome !== 'error')
      this.logger.info(
        { event: 'registry.heartbeat_refused', subject, code: outcome },
        `heartbeat refused: ${outcome}; nothing recorded`,
      );
    return outcome;
  }

  /** Verified, or verified but for a counter already seen: that one goes to the judge too. */
  async #verified(subject: string, data: Uint8Array): Promise<Heartbeat> {
    try {
      return (await this.verifier.verify(subject, data)) as Heartbeat;
    } catch (error) {
      // `replayed` comes after the signature check: the message is the device's own, as sent.
      if (error instanceof DeviceMessageRejected && error.code === 'replayed')
        return HeartbeatMessage.parse(JSON.parse(decoder.decode(data)));
      throw error;
    }
  }
}
