/**
 * The CSR transport: `<ns>.dev.*.csr` in the `ca` queue group (instances share the load), each
 * message verified by the device-protocol verifier before anything else, then handed to the
 * issuance pipeline with bounded concurrency. The answer goes to the device's inbox: the
 * certificate, or a rejection naming the reason. Messages that fail the envelope checks are ignored.
 */
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
import { DeviceMessageVerifier, isDeviceMessageRejected, type DeviceMessageRejectionCode } from '@tunnelkey/device-protocol';
import { MAX_CSR_BYTES } from '@tunnelkey/pki';
import type { Logger } from 'pino';
import type { DeviceEligibility } from '../device-eligibility/device-eligibility.js';
import { BoundedConcurrency } from '../shared/bounded-concurrency.js';
import type { DownlinkPublisher } from '@tunnelkey/device-protocol';
import type { CertificateRejectionReason } from './certificate-refused.js';
import type { CertificateIssuance, IssuanceOutcome } from './certificate-issuance.js';

export interface CsrIntakeDeps {
  nc: NatsConnection;
  namespace: string;
  eligibility: DeviceEligibility;
  issuance: CertificateIssuance;
  downlinks: DownlinkPublisher;
  maxConcurrent: number;
  logger: Logger;
  clock?: () => Date;
  /** Called with every outcome (metrics). */
  onOutcome?: (outcome: IssuanceOutcome, ms: number) => void;
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

export class CsrIntake {
  readonly verifier: DeviceMessageVerifier;
  readonly #limiter: BoundedConcurrency;
  readonly #clock: () => Date;
  #subscription: Subscription | undefined;
  #loop: Promise<void> | undefined;

  constructor(private readonly deps: CsrIntakeDeps) {
    this.#clock = deps.clock ?? (() => new Date());
    this.#limiter = new BoundedConcurrency(deps.maxConcurrent);
    this.verifier = new DeviceMessageVerifier({
      direction: 'uplink',
      namespace: deps.namespace,
      clock: this.#clock,
      // A CSR envelope is signed with the device's enrolment key (contracts: csr, flow step 5).
      resolveKey: async (envelope) => {
        let device = deps.eligibility.facts(envelope.deviceId).device;
        if (!device) {
          await deps.eligibility.syncNow(); // maybe imported a moment ago
          device = deps.eligibility.facts(envelope.deviceId).device;
        }
        if (!device) return undefined;
        if (envelope.keyId !== 'enrolment') return null;
        return deps.eligibility.enrolmentKey(device);
      },
    });
  }

  start(): void {
    const subscription = this.deps.nc.subscribe(deviceUplinkFilter(CsrMessage.kind, this.deps.namespace), { queue: 'ca' });
    this.#subscription = subscription;
    this.#loop = (async () => {
      for await (const msg of subscription) {
        // Waits for a free slot: back-pressure instead of unbounded concurrent signing.
        await this.#limiter.submit(async () => {
          await this.handle(msg.subject, msg.data).catch((error: unknown) => {
            this.deps.logger.error({ event: 'ca.csr_failed', subject: msg.subject, error: error instanceof Error ? `${error.name}: ${error.message}` : 'unknown' }, 'CSR handling failed');
          });
        });
      }
    })();
  }

  /** Stops taking CSRs and waits for those in flight. */
  async stop(): Promise<void> {
    if (this.#subscription) await this.#subscription.drain().catch(() => undefined);
    await this.#loop;
    await this.#limiter.idle();
    this.#subscription = undefined;
  }

  /** One CSR message, end to end: verify, issue or refuse, answer the device. Public for tests. */
  async handle(subject: string, data: Uint8Array): Promise<IssuanceOutcome | undefined> {
    const started = performance.now();
    const receivedAt = this.#clock();
    let envelope: DeviceEnvelope;
    try {
      envelope = await this.verifier.verify(subject, data);
    } catch (error) {
      if (!isDeviceMessageRejected(error)) throw error;
      return this.#ignoreUnverified(subject, data, error.code, started);
    }
    const body = envelope.body as DeviceBodyOf<typeof CsrMessage>;
    const outcome = await this.deps.issuance.issue({
      deviceId: envelope.deviceId,
      requestId: body.requestId,
      keyId: body.keyId,
      csrDer: Buffer.from(body.csr, 'base64'),
      ...(body.keyAttestation ? { keyAttestation: body.keyAttestation } : {}),
      receivedAt,
    });
    await this.#answer(envelope.deviceId, body.requestId, envelope.counter, outcome);
    this.deps.onOutcome?.(outcome, performance.now() - started);
    return outcome;
  }

  /**
   * A message that failed the envelope checks. Its sender is not authenticated, so it changes
   * nothing: no event (anyone on the bus could otherwise make the CA write to its log) and no
   * signed answer. It is logged without its content and counted in the metrics.
   */
  #ignoreUnverified(subject: string, data: Uint8Array, code: DeviceMessageRejectionCode, started: number): IssuanceOutcome {
    const parts = parseDeviceSubject(subject, this.deps.namespace);
    const reason = code === 'malformed' && this.#csrTooLarge(data) ? 'oversized-csr' : reasonForEnvelopeRefusal[code];
    this.deps.logger.warn({ event: 'ca.csr_ignored', deviceId: parts?.deviceId, code, reason }, 'CSR message failed its envelope checks; ignored');
    const outcome: IssuanceOutcome = { kind: 'ignored', reason };
    this.deps.onOutcome?.(outcome, performance.now() - started);
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
      await this.deps.downlinks.send(CertificateMessage, deviceId, { requestId, serialNumber, certificatePem, chainPem });
    } else {
      await this.deps.downlinks.send(RejectionMessage, deviceId, {
        inReplyTo: { kind: CsrMessage.kind, counter },
        code: outcome.reason,
        message: `${requestId}: ${outcome.message}`.slice(0, 500),
      });
    }
  }
}
