/**
 * The CSR uplink: `<ns>.dev.*.csr` in the `ca` queue group (instances share the load). Each message
 * is verified by the device-protocol verifier before the handler sees it, handled with bounded
 * concurrency, and answered in the device's inbox: the certificate, or a rejection naming the
 * reason. Messages that fail the envelope checks are ignored (counted and logged, never answered).
 * While the log is out of reach (an append not acknowledged) the CSR is issued again with backoff:
 * the append may have landed, and then the request reads answered (CertifyDevices asks no more),
 * so giving up would leave the device without the certificate the log holds for it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  CertificateMessage,
  CsrMessage,
  RejectionMessage,
  deviceUplinkFilter,
  parseDeviceSubject,
  type DeviceBodyOf,
  type DeviceEnvelope,
} from '@tunnelkey/contracts';
import { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import {
  DeviceMessageVerifier,
  isDeviceMessageRejected,
  type DeviceMessageRejectionCode,
  type DownlinkPublisher,
} from '@tunnelkey/device-protocol';
import { describeError, isStoreUnavailable } from '@tunnelkey/eventstore';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import { MAX_CSR_BYTES } from '@tunnelkey/pki';
import type { Logger } from 'pino';
import type { CaConfig } from '../config.js';
import { AUTHORITIES_READY, CA_CONFIG, CA_LOGGER, CLOCK, DOWNLINKS, ISSUANCE_METRICS, type Clock } from '../tokens.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';
import type { CertificateRejectionReason } from './certificate-refused.js';
import type { IssuanceRequest } from './issuance-request.js';
import { IssueCertificateHandler, type IssuanceOutcome } from './issue-certificate.handler.js';

/** Counts and times every CSR outcome (the CA's Prometheus metrics). */
export interface IssuanceMetrics {
  observe(outcome: IssuanceOutcome, ms: number): void;
}

const reasonForEnvelopeRefusal: Record<DeviceMessageRejectionCode, CertificateRejectionReason> = {
  'too-large': 'oversized-csr',
  malformed: 'malformed-csr',
  'subject-mismatch': 'bad-message-signature',
  'unknown-device': 'unknown-device',
  'wrong-key': 'bad-message-signature',
  'bad-signature': 'bad-message-signature',
  replayed: 'replayed-message',
  stale: 'replayed-message',
};

const decoder = new TextDecoder();

/** Waits before issuing a CSR again while the log is out of reach; then it fails (logged as ca.csr_failed). */
const storeRetryBackoffMs = [250, 1_000, 4_000, 10_000];

@Injectable()
export class CsrUplinkController implements OnApplicationBootstrap, OnModuleDestroy {
  readonly verifier: DeviceMessageVerifier;
  readonly #limiter: ConcurrencyLimiter;
  #subscription: Subscription | undefined;
  #loop: Promise<void> | undefined;
  /** Aborted at shutdown: a CSR waiting to be issued again gives up (its device asks again; the stop does not wait 15 s). */
  readonly #stopping = new AbortController();

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(CA_CONFIG) private readonly config: CaConfig,
    private readonly eligibility: DeviceEligibilityView,
    private readonly handler: IssueCertificateHandler,
    @Inject(DOWNLINKS) private readonly downlinks: DownlinkPublisher,
    @Inject(ISSUANCE_METRICS) private readonly metrics: IssuanceMetrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
    // Not used: orders the start after the authorities exist (no race among the first CSRs to create them).
    @Inject(AUTHORITIES_READY) _authoritiesReady: unknown,
  ) {
    this.#limiter = new ConcurrencyLimiter(config.maxConcurrentIssuance);
    this.verifier = new DeviceMessageVerifier({
      direction: 'uplink',
      namespace: config.namespace,
      clock: clock,
      // A CSR envelope is signed with the device's enrolment key (contracts: csr, flow step 5).
      resolveKey: async (envelope) => {
        let device = eligibility.facts(envelope.deviceId).device;
        if (!device) {
          await eligibility.catchUp(); // maybe imported a moment ago
          device = eligibility.facts(envelope.deviceId).device;
        }
        if (!device) return undefined;
        if (envelope.keyId !== 'enrolment') return null;
        return eligibility.enrolmentKey(device);
      },
    });
  }

  onApplicationBootstrap(): void {
    const subscription = this.nc.subscribe(deviceUplinkFilter(CsrMessage.kind, this.config.namespace), { queue: 'ca' });
    this.#subscription = subscription;
    this.#loop = (async () => {
      for await (const msg of subscription) {
        // Waits for a free slot: back-pressure instead of unbounded concurrent signing.
        await this.#limiter.start(() =>
          this.handle(msg.subject, msg.data).catch((error: unknown) => {
            const described = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown';
            this.logger.error(
              { event: 'ca.csr_failed', subject: msg.subject, error: described },
              'CSR handling failed',
            );
          }),
        );
      }
    })();
  }

  /** Stops taking CSRs and waits for those in flight. */
  async onModuleDestroy(): Promise<void> {
    this.#stopping.abort();
    if (this.#subscription) await this.#subscription.drain().catch(() => undefined);
    await this.#loop;
    await this.#limiter.idle();
    this.#subscription = undefined;
  }

  /** One CSR message, end to end: verify, issue or refuse, answer the device. */
  async handle(subject: string, data: Uint8Array): Promise<IssuanceOutcome | undefined> {
    const started = performance.now();
    const receivedAt = this.clock();
    let envelope: DeviceEnvelope;
    try {
      envelope = await this.verifier.verify(subject, data);
    } catch (error) {
      if (!isDeviceMessageRejected(error)) throw error;
      return this.#ignoreUnverified(subject, data, error.code, started);
    }
    const body = envelope.body as DeviceBodyOf<typeof CsrMessage>;
    const outcome = await this.#issue({
      deviceId: envelope.deviceId,
      requestId: body.requestId,
      keyId: body.keyId,
      csrDer: Buffer.from(body.csr, 'base64'),
      ...(body.keyAttestation ? { keyAttestation: body.keyAttestation } : {}),
      receivedAt,
    });
    await this.#answer(envelope.deviceId, body.requestId, envelope.counter, outcome);
    this.metrics.observe(outcome, performance.now() - started);
    return outcome;
  }

  /** Issues, and again while the log is out of reach: issuance is idempotent per requestId (a retry gets the recorded certificate). */
  async #issue(request: IssuanceRequest): Promise<IssuanceOutcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.handler.issue(request);
      } catch (error) {
        if (!isStoreUnavailable(error) || attempt >= storeRetryBackoffMs.length || this.#stopping.signal.aborted)
          throw error;
        const { deviceId, requestId } = request;
        this.logger.warn(
          { event: 'ca.csr_retried', deviceId, requestId, attempt: attempt + 1, error: describeError(error) },
          'the log is out of reach; issuing the CSR again',
        );
        await sleep(storeRetryBackoffMs[attempt]!, undefined, { signal: this.#stopping.signal }).catch(() => undefined);
      }
    }
  }

  /**
   * A message that failed the envelope checks. Its sender is not authenticated, so it changes
   * nothing: no event (anyone on the bus could otherwise make the CA write to its log) and no
   * signed answer. It is logged without its content and counted in the metrics.
   */
  #ignoreUnverified(
    subject: string,
    data: Uint8Array,
    code: DeviceMessageRejectionCode,
    started: number,
  ): IssuanceOutcome {
    const parts = parseDeviceSubject(subject, this.config.namespace);
    const reason = code === 'malformed' && this.#csrTooLarge(data) ? 'oversized-csr' : reasonForEnvelopeRefusal[code];
    const logged = { event: 'ca.csr_ignored', deviceId: parts?.deviceId, code, reason };
    this.logger.warn(logged, 'CSR message failed its envelope checks; ignored');
    const outcome: IssuanceOutcome = { kind: 'ignored', reason };
    this.metrics.observe(outcome, performance.now() - started);
    return outcome;
  }

  #csrTooLarge(data: Uint8Array): boolean {
    if (data.length > 256 * 1024) return true;
    try {
      const csr = (JSON.parse(decoder.decode(data)) as { body?: { csr?: unknown } }).body?.csr;
      return typeof csr === 'string' && (csr.length * 3) / 4 > MAX_CSR_BYTES;
    } catch {
      return false;
    }
  }

  async #answer(deviceId: string, requestId: string, counter: number, outcome: IssuanceOutcome): Promise<void> {
    if (outcome.kind === 'ignored') return;
    if (outcome.kind === 'issued') {
      const { serialNumber, certificatePem, chainPem } = outcome.certificate;
      await this.downlinks.send(CertificateMessage, deviceId, { requestId, serialNumber, certificatePem, chainPem });
    } else {
      await this.downlinks.send(RejectionMessage, deviceId, {
        inReplyTo: { kind: CsrMessage.kind, counter },
        code: outcome.reason,
        message: `${requestId}: ${outcome.message}`.slice(0, 500),
      });
    }
  }
}
