/**
 * Revocation saga -> CA: on RevocationRequested, revoke every certificate of the named devices
 * (CertificateRevoked per serial), publish one new CRL per authority that gained entries
 * (CrlPublished), then record RevocationApplied. Driven by a durable consumer shared by all CA
 * instances (one revocation at a time, in order); requests queued behind it share its CRL. Every
 * write has a command id derived from its revocation, so a redelivery after a crash completes what
 * is missing and repeats nothing.
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

type Request = EventOf<typeof RevocationRequested>;

/** Devices one pass takes along at most (the leading revocation always goes in whole). */
const maxDevicesPerPass = 5_000;

export class CertificateRevocation {
  #subscription: Subscription | undefined;
  #requests: Subscription | undefined;
  /**
   * Requests in the log behind the one being applied, by revocation id, in log order (followed in
   * process). The durable delivers one request at a time, in order; when requests queue up behind
   * it (revocations one by one, in a burst) the pass that applies the first takes them along: their
   * certificates revoked under their own command ids, one CRL for all, a RevocationApplied for each.
   * When their turn comes they are found applied. A burst of n revocations costs one CRL, not n.
   */
  readonly #behind = new Map<string, { sequence: number; request: Request }>();

  private constructor(private readonly options: CertificateRevocationOptions) {}

  static async start(options: CertificateRevocationOptions): Promise<CertificateRevocation> {
    const revocation = new CertificateRevocation(options);
    revocation.#requests = await options.store.follow(
      'revocation',
      (recorded) => {
        if (RevocationRequested.is(recorded.event)) revocation.#behind.set(recorded.event.data.revocationId, { sequence: recorded.sequence, request: recorded.event });
      },
      { aggregate: 'revocation' },
    );
    revocation.#subscription = await options.store.subscribe({ durable: revocationRequestsDurable, context: 'revocation', aggregate: 'revocation' }, (recorded) => revocation.#handle(recorded));
    return revocation;
  }

  async #handle(recorded: RecordedEvent): Promise<void> {
    if (!RevocationRequested.is(recorded.event)) return;
    // Everything before it in the log was delivered (and applied) before it.
    for (const [revocationId, waiting] of this.#behind) if (waiting.sequence <= recorded.sequence) this.#behind.delete(revocationId);
    const takenAlong: Request[] = [];
    let devices = recorded.event.data.deviceIds.length;
    for (const { request } of this.#behind.values()) {
      if ((devices += request.data.deviceIds.length) > maxDevicesPerPass) break;
      takenAlong.push(request);
    }
    try {
      await this.apply(recorded.event, takenAlong);
    } catch (error) {
      // Nak and retry (the subscription backs off): a revocation is never skipped.
      this.options.logger.warn({ event: 'ca.revocation_retry', revocationId: recorded.event.data.revocationId, error: describeError(error) }, 'revocation not applied yet; will retry');
      throw error;
    }
  }

  /**
   * Applies a revocation, and with it `takenAlong` (requests queued behind it): idempotent, as every
   * write's command id derives from its own revocation. Returns what was recorded for `request`.
   */
  async apply(request: Request, takenAlong: readonly Request[] = []): Promise<RevocationAppliedData> {
    const started = performance.now();
    const { store, publisher, eligibility, logger } = this.options;
    const done = await load(store, revocationAppliedDecider, caRevocationStream(request.data.revocationId));
    if (done.state.status === 'Applied') return done.state.applied;
    const others = takenAlong.filter((other) => other.data.revocationId !== request.data.revocationId);
    const states = await mapBounded(others, this.options.concurrency ?? 32, (other) => load(store, revocationAppliedDecider, caRevocationStream(other.data.revocationId)));
    const pending = [request, ...others.filter((_other, i) => states[i]!.state.status !== 'Applied')];

    const metadata = (of: Request, commandId: string): CommandMetadata => ({
      commandId,
      correlationId: of.correlationId,
      now: this.options.clock().toISOString(),
      actor: { kind: 'service', id: 'ca' },
    });
    const outcomes = new Map(pending.map((r) => [r.data.revocationId, { authorities: new Set<string>(), certificatesRevoked: 0, alreadyRevoked: 0, devices: 0 }]));
    const work = pending.flatMap((r) => [...new Set(r.data.deviceIds)].map((deviceId) => ({ request: r, deviceId })));
    // Refuse new certificates at once in this instance; the registry's DeviceRevoked makes it durable for all.
    for (const { deviceId } of work) {
      const record = eligibility.facts(deviceId).device;
      if (record) record.revoked = true;
    }
    await mapBounded(work, this.options.concurrency ?? 32, async ({ request: of, deviceId }) => {
      const { revocationId, reason } = of.data;
      const outcome = outcomes.get(revocationId)!;
      outcome.devices++;
      const result = await handleCommand({
        store,
        decider: revokeCertificatesDecider,
        stream: deviceCertificatesStream(deviceId),
        command: { type: 'RevokeCertificates', data: { deviceId, revocationId, reason }, metadata: metadata(of, derivedId('revoke', revocationId, deviceId)) },
        logger,
        maxRetries: 10,
      });
      // Earlier events of this command (a redelivery) count as this revocation's: their CRL may not be published yet.
      const revoked = result.events.filter((event) => event.type === 'CertificateRevoked');
      for (const event of revoked) {
        if (event.type !== 'CertificateRevoked') continue;
        publisher.noteRevoked(event.data);
        outcome.authorities.add(event.data.authorityId);
      }
      outcome.certificatesRevoked += revoked.length;
      if (revoked.length === 0) outcome.alreadyRevoked++;
    });

    // One CRL per authority for the whole pass, named after the leading revocation.
    const authorities = [...new Set([...outcomes.values()].flatMap((o) => [...o.authorities]))].sort();
    const crls = new Map<string, RevocationAppliedData['crls'][number]>();
    for (const authorityId of authorities) {
      const crl = await publisher.publish(authorityId, metadata(request, derivedId('crl', request.data.revocationId, authorityId)));
      crls.set(authorityId, { authorityId, crlNumber: crl.crlNumber, crlDigest: crl.crlDigest });
    }
    // The CRLs are out (targets act on CrlPublished); now the record of each revocation.
    const recorded = await mapBounded(pending, this.options.concurrency ?? 32, async (of) => {
      const outcome = outcomes.get(of.data.revocationId)!;
      const applied: RevocationAppliedData = {
        revocationId: of.data.revocationId,
        devices: outcome.devices,
        certificatesRevoked: outcome.certificatesRevoked,
        alreadyRevoked: outcome.alreadyRevoked,
        crls: [...outcome.authorities].sort().map((authorityId) => crls.get(authorityId)!),
      };
      await handleCommand({
        store,
        decider: revocationAppliedDecider,
        stream: caRevocationStream(of.data.revocationId),
        command: { type: 'RecordRevocationApplied', data: applied, metadata: metadata(of, derivedId('applied', of.data.revocationId)) },
        logger,
      });
      this.#behind.delete(of.data.revocationId);
      return applied;
    });
    const ms = performance.now() - started;
    const [leading] = recorded as [RevocationAppliedData];
    logger.info({ event: 'ca.revocation_applied', ...leading, crls: crls.size, takenAlong: recorded.length - 1, ms: Math.round(ms), correlationId: request.correlationId }, 'revocation applied');
    for (const applied of recorded) this.options.onApplied?.(applied, ms);
    return leading;
  }

  async stop(): Promise<void> {
    await this.#subscription?.stop();
    this.#subscription = undefined;
    await this.#requests?.stop();
    this.#requests = undefined;
  }
}
