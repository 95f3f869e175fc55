/**
 * Revocation saga -> CA: on RevocationRequested, revoke every certificate of the named devices
 * (CertificateRevoked per serial), publish one new CRL per authority that gained entries
 * (CrlPublished), then record RevocationApplied. Driven by a durable consumer shared by all CA
 * instances (one revocation at a time, in order). Every write has a command id derived from the
 * revocation, so a redelivery after a crash completes what is missing and repeats nothing.
 */
import { createHash } from 'node:crypto';
import { RevocationRequested, type CommandMetadata, type EventOf } from '@tunnelkey/contracts';
import { describeError, handleCommand, load, type EventStore, type RecordedEvent, type Subscription } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import { deviceCertificatesStream } from '../certificate-issuance/device-certificates.decider.js';
import type { CrlPublisher } from '../crl-publication/crl-publisher.js';
import type { DeviceEligibility } from '../device-eligibility/device-eligibility.js';
import { mapBounded } from './map-bounded.js';
import { caRevocationStream, revocationAppliedDecider, type RevocationAppliedData } from './revocation-applied.decider.js';
import { revokeCertificatesDecider } from './revoke-certificates.decider.js';

/** Shared by every CA instance: each revocation is applied by one of them. */
export const revocationRequestsDurable = 'ca-revoke-certificates';

export interface CertificateRevocationOptions {
  store: EventStore;
  publisher: CrlPublisher;
  eligibility: DeviceEligibility;
  clock: () => Date;
  logger: Logger;
  /** Device appends in flight per revocation. */
  concurrency?: number;
  /** Called once a revocation is applied (metrics, tests). */
  onApplied?: (applied: RevocationAppliedData, ms: number) => void;
}

const derivedId = (...parts: string[]) => `rv-${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 48)}`;

export class CertificateRevocation {
  #subscription: Subscription | undefined;

  private constructor(private readonly options: CertificateRevocationOptions) {}

  static async start(options: CertificateRevocationOptions): Promise<CertificateRevocation> {
    const revocation = new CertificateRevocation(options);
    revocation.#subscription = await options.store.subscribe({ durable: revocationRequestsDurable, context: 'revocation', aggregate: 'revocation' }, (recorded) => revocation.#handle(recorded));
    return revocation;
  }

  async #handle(recorded: RecordedEvent): Promise<void> {
    if (!RevocationRequested.is(recorded.event)) return;
    try {
      await this.apply(recorded.event);
    } catch (error) {
      // Nak and retry (the subscription backs off): a revocation is never skipped.
      this.options.logger.warn({ event: 'ca.revocation_retry', revocationId: recorded.event.data.revocationId, error: describeError(error) }, 'revocation not applied yet; will retry');
      throw error;
    }
  }

  /** Applies one revocation (idempotent). */
  async apply(request: EventOf<typeof RevocationRequested>): Promise<RevocationAppliedData> {
    const started = performance.now();
    const { store, publisher, eligibility, logger } = this.options;
    const { revocationId, deviceIds, reason } = request.data;
    const done = await load(store, revocationAppliedDecider, caRevocationStream(revocationId));
    if (done.state.status === 'Applied') return done.state.applied;

    const metadata = (commandId: string): CommandMetadata => ({
      commandId,
      correlationId: request.correlationId,
      now: this.options.clock().toISOString(),
      actor: { kind: 'service', id: 'ca' },
    });
    const devices = [...new Set(deviceIds)];
    // Refuse new certificates at once in this instance; the registry's DeviceRevoked makes it durable for all.
    for (const deviceId of devices) {
      const record = eligibility.facts(deviceId).device;
      if (record) record.revoked = true;
    }
    const authorities = new Set<string>();
    let certificatesRevoked = 0;
    let alreadyRevoked = 0;
    await mapBounded(devices, this.options.concurrency ?? 32, async (deviceId) => {
      const result = await handleCommand({
        store,
        decider: revokeCertificatesDecider,
        stream: deviceCertificatesStream(deviceId),
        command: { type: 'RevokeCertificates', data: { deviceId, revocationId, reason }, metadata: metadata(derivedId('revoke', revocationId, deviceId)) },
        logger,
        maxRetries: 10,
      });
      // Earlier events of this command (a redelivery) count as this revocation's: their CRL may not be published yet.
      const revoked = result.events.filter((event) => event.type === 'CertificateRevoked');
      for (const event of revoked) {
        if (event.type !== 'CertificateRevoked') continue;
        publisher.noteRevoked(event.data);
        authorities.add(event.data.authorityId);
      }
      certificatesRevoked += revoked.length;
      if (revoked.length === 0) alreadyRevoked++;
    });

    const crls: RevocationAppliedData['crls'] = [];
    for (const authorityId of [...authorities].sort()) {
      const crl = await publisher.publish(authorityId, metadata(derivedId('crl', revocationId, authorityId)));
      crls.push({ authorityId, crlNumber: crl.crlNumber, crlDigest: crl.crlDigest });
    }
    const applied: RevocationAppliedData = { revocationId, devices: devices.length, certificatesRevoked, alreadyRevoked, crls };
    await handleCommand({
      store,
      decider: revocationAppliedDecider,
      stream: caRevocationStream(revocationId),
      command: { type: 'RecordRevocationApplied', data: applied, metadata: metadata(derivedId('applied', revocationId)) },
      logger,
    });
    const ms = performance.now() - started;
    logger.info({ event: 'ca.revocation_applied', ...applied, crls: crls.length, ms: Math.round(ms), correlationId: request.correlationId }, 'revocation applied');
    this.options.onApplied?.(applied, ms);
    return applied;
  }

  async stop(): Promise<void> {
    await this.#subscription?.stop();
    this.#subscription = undefined;
  }
}
