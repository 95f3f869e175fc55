import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { deviceUplinkFilter, parseDeviceSubject, type DeviceEnvelope } from '@tunnelkey/contracts';
import {
  DeviceMessageRejected,
  DeviceMessageVerifier,
  ReplayGuard,
  type DeviceMessageRejectionCode,
} from '@tunnelkey/device-protocol';
import { describeError } from '@tunnelkey/eventstore';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import type { Logger } from 'pino';
import { AnnounceHandler, type Announce } from '../announce-device/announce.handler.js';
import type { RegistryConfig } from '../config.js';
import type { VerificationFailureReason } from '../deciders/device-state.js';
import { sendRejection, type Downlinks } from '../downlink-port/downlinks.js';
import {
  EnrolmentKeyReportHandler,
  type EnrolmentKeyReport,
} from '../request-enrolment-keys/enrolment-key-report.handler.js';
import type { Clock } from '../shared/clock.js';
import { RegistryMetrics } from '../shared/registry-metrics.js';
import { DOWNLINKS, REGISTRY_CLOCK, REGISTRY_CONFIG, REGISTRY_LOGGER } from '../tokens.js';
import { isEnrolled } from '../deciders/device-state.js';
import { IdentityResponseHandler, type IdentityResponse } from '../verify-identity/identity-response.handler.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';
import { SourceRateLimiter } from './source-rate-limiter.js';
import { UplinkKeyResolver } from './uplink-key-resolver.js';
import type { UplinkOutcome } from './uplink-outcome.js';

/** The device messages the registry answers; the CA listens for `csr` itself. */
export const registryUplinkKinds = ['identity-response', 'enrolment-key-report', 'announce'] as const;

/** How a refusal before trust counts against a pending identity challenge. */
const untrustedResponseReasons: Partial<Record<DeviceMessageRejectionCode, VerificationFailureReason>> = {
  'bad-signature': 'bad-signature',
  'wrong-key': 'wrong-key',
  replayed: 'replayed',
  malformed: 'malformed-response',
};

const decoder = new TextDecoder();

/**
 * Device -> registry messages: one queue-group subscription per kind (replicas share the load),
 * each device id rate-limited (a token bucket, bounded memory), every message verified (size,
 * contract, subject, key, signature, replay) before anything acts on it, then handed to its slice.
 * A message that fails verification is not answered (as the CA does): its sender is not
 * authenticated, and a signed rejection for each would let anyone make the platform sign at will.
 * Refusals of verified messages are answered with a signed `rejection` downlink. The replay
 * counters are bounded and, after a restart, floored at what the log holds (the device view).
 * Nothing a device sends can crash the service: every failure ends in a log line.
 */
@Injectable()
export class DeviceUplinksController implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #subscriptions: Subscription[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #started = false;
  readonly verifier: DeviceMessageVerifier;
  readonly replayGuard: ReplayGuard;
  readonly rateLimiter: SourceRateLimiter;
  readonly #limiter: ConcurrencyLimiter;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    private readonly keys: UplinkKeyResolver,
    private readonly identityResponses: IdentityResponseHandler,
    private readonly enrolmentKeyReports: EnrolmentKeyReportHandler,
    private readonly announcements: AnnounceHandler,
    private readonly devices: DeviceByIdView,
    @Inject(DOWNLINKS) private readonly downlinks: Downlinks,
    private readonly metrics: RegistryMetrics,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {
    this.#limiter = new ConcurrencyLimiter(config.uplinkConcurrency);
    this.rateLimiter = new SourceRateLimiter({
      ratePerMinute: config.uplinkRatePerMinute,
      burst: config.uplinkBurst,
      maxSources: config.trackedDevices,
    });
    this.replayGuard = new ReplayGuard({
      maxDevices: config.trackedDevices,
      floor: (deviceId) => devices.lastUplinkCounter(deviceId),
    });
    this.verifier = new DeviceMessageVerifier({
      direction: 'uplink',
      namespace: config.namespace,
      clock,
      resolveKey: keys.resolve,
      replayGuard: this.replayGuard,
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { namespace } = this.config;
    for (const kind of registryUplinkKinds) {
      const subject = deviceUplinkFilter(kind, namespace);
      this.#subscriptions.push(
        this.nats.subscribe(subject, {
          queue: 'registry',
          callback: (error, msg) => {
            if (error) {
              this.logger.error(
                { event: 'registry.uplink_subscription_failed', subject, error: describeError(error) },
                'device subscription failed',
              );
              return;
            }
            const handling = this.#limiter.run(() => this.handle(msg.subject, msg.data));
            this.#inFlight.add(handling);
            void handling.finally(() => this.#inFlight.delete(handling));
          },
        }),
      );
    }
    await this.nats.flush();
  }

  async onModuleDestroy(): Promise<void> {
    for (const subscription of this.#subscriptions.splice(0)) subscription.unsubscribe();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** One device message, end to end: rate limit, verify, hand to its slice, answer a refusal. */
  async handle(subject: string, data: Uint8Array): Promise<void> {
    const source = parseDeviceSubject(subject, this.config.namespace);
    if (!source || source.direction !== 'uplink') {
      this.metrics.uplinksDropped.inc({ reason: 'unverified-subject-mismatch' });
      return;
    }
    if (!this.rateLimiter.take(source.deviceId, this.clock().getTime())) {
      this.metrics.uplinksDropped.inc({ reason: 'rate-limited' });
      return;
    }
    let envelope: DeviceEnvelope;
    try {
      envelope = await this.verifier.verify(subject, data);
    } catch (error) {
      await this.#untrusted(error, subject, data).catch((failure: unknown) => this.#failed(subject, failure));
      return;
    }
    try {
      const outcome = await this.#dispatch(envelope);
      const counted = outcome.accepted ? (outcome.detail ?? 'accepted') : outcome.silent ? 'dropped' : 'refused';
      this.metrics.deviceMessages.inc({ kind: envelope.kind, outcome: counted });
      if (!outcome.accepted) {
        this.logger.info(
          {
            event: 'registry.device_message_refused',
            deviceId: envelope.deviceId,
            kind: envelope.kind,
            counter: envelope.counter,
            code: outcome.code,
          },
          'device message refused',
        );
        if (outcome.silent) {
          this.metrics.uplinksDropped.inc({ reason: outcome.code });
          return;
        }
        const inReplyTo = { kind: envelope.kind, counter: envelope.counter };
        await sendRejection(this.downlinks, envelope.deviceId, inReplyTo, outcome.code, outcome.message);
      }
    } catch (error) {
      // The store or the bus failed: nothing was decided, and the device will ask again.
      this.metrics.deviceMessages.inc({ kind: envelope.kind, outcome: 'error' });
      this.#failed(subject, error);
    }
  }

  #dispatch(envelope: DeviceEnvelope): Promise<UplinkOutcome> {
    switch (envelope.kind) {
      case 'identity-response':
        return this.identityResponses.handle(envelope as IdentityResponse, this.keys.digestFor(envelope));
      case 'enrolment-key-report':
        return this.enrolmentKeyReports.handle(envelope as EnrolmentKeyReport);
      case 'announce':
        return this.announcements.handle(envelope as Announce);
      default:
        return Promise.resolve({ accepted: false, code: 'unexpected-kind' });
    }
  }

  /**
   * A message that failed verification: counted and logged (codes and ids only), never answered.
   * An identity-response is counted against the device's pending challenge when the view holds
   * one with that id not yet failed for that reason (no log read for anything else).
   */
  async #untrusted(error: unknown, subject: string, data: Uint8Array): Promise<void> {
    if (!(error instanceof DeviceMessageRejected)) throw error;
    const parts = parseDeviceSubject(subject, this.config.namespace);
    this.metrics.uplinksDropped.inc({ reason: `unverified-${error.code}` });
    this.logger.debug(
      { event: 'registry.device_message_unverified', code: error.code, deviceId: parts?.deviceId, kind: parts?.kind },
      'device message failed verification; dropped',
    );
    const reason = untrustedResponseReasons[error.code];
    if (!parts || parts.kind !== 'identity-response' || !reason) return;
    const state = this.devices.deviceState(parts.deviceId);
    if (!state || !isEnrolled(state) || !state.challenge || state.challenge.failures.includes(reason)) return;
    const raw = parseQuietly(data);
    if ((raw?.body as { challengeId?: unknown } | undefined)?.challengeId !== state.challenge.challengeId) return;
    const counter =
      typeof raw?.counter === 'number' && Number.isSafeInteger(raw.counter) && raw.counter >= 0 ? raw.counter : 0;
    await this.identityResponses.recordUntrustedResponse(parts.deviceId, raw?.body, reason, counter);
  }

  #failed(subject: string, error: unknown): void {
    this.logger.error(
      { event: 'registry.device_message_failed', subject, error: describeError(error) },
      'device message could not be handled',
    );
  }
}

function parseQuietly(data: Uint8Array): { counter?: unknown; body?: unknown } | undefined {
  if (data.length > 64 * 1024) return undefined;
  try {
    const value: unknown = JSON.parse(decoder.decode(data));
    return typeof value === 'object' && value !== null ? (value as { counter?: unknown; body?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}
