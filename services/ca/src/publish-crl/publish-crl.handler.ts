/**
 * Publishes an authority's CRL: every certificate it revoked, signed by the authority (pkijs via
 * @tunnelkey/pki), stored by digest, then recorded as CrlPublished with the next CRL number.
 * Serves the current one to the HTTP distribution point. Idempotent per command id: a redelivered
 * revocation finds its CrlPublished (by causation) and does not publish a second CRL.
 */
import { createHash } from 'node:crypto';
import { CrlPublished, type CommandMetadata, type DataOf } from '@tunnelkey/contracts';
import { handleCommand, isCommandRejected, load, Projection, rebuildProjection, type EventStore, type SnapshotPolicy, type Subscription } from '@tunnelkey/eventstore';
import { buildCrl } from '@tunnelkey/pki';
import type { Logger } from 'pino';
import { authorityDecider, authorityStream } from '../authority/authority.decider.js';
import type { CertificateAuthority, LoadedAuthority } from '../authority/certificate-authority.js';
import { AuthorityUnavailableError } from '../errors.js';
import { crlDecider, crlStream, nextCrlThisUpdate } from './crl.decider.js';
import type { CrlStore } from './crl-store.js';
import { foldRevoked, revokedCertificatesProjection, type RevokedCertificatesState } from './revoked-certificates.projection.js';

export interface CrlPublisherOptions {
  store: EventStore;
  authority: CertificateAuthority;
  crls: CrlStore;
  /** nextUpdate = thisUpdate + this. */
  crlValidityHours: number;
  clock: () => Date;
  logger: Logger;
  /**
   * An authority's CRL stream grows by one event per CRL for as long as it exists: snapshots keep
   * its reads short. (A redelivered revocation then finds its CrlPublished only among the events
   * after the last snapshot; one older than that would publish one more, identical-content CRL.)
   */
  snapshots?: SnapshotPolicy;
}

export interface CurrentCrl {
  crl: DataOf<typeof CrlPublished>;
  der: Uint8Array;
}

const hour = 3_600_000;
const maxAttempts = 5;

export class CrlPublisher {
  #subscription: Subscription | undefined;
  readonly #derCache = new Map<string, Uint8Array>();

  private constructor(
    private readonly options: CrlPublisherOptions,
    private readonly projection: Projection<RevokedCertificatesState>,
  ) {}

  static async start(options: CrlPublisherOptions): Promise<CrlPublisher> {
    const projection = await rebuildProjection(options.store, revokedCertificatesProjection);
    const publisher = new CrlPublisher(options, projection);
    // In memory and rebuilt at every start: follow the log, no durable position.
    publisher.#subscription = await options.store.follow(revokedCertificatesProjection.context, (recorded) => void projection.apply(recorded), {
      fromSequence: projection.checkpoint + 1,
    });
    await publisher.#subscription.caughtUp();
    return publisher;
  }

  /** Folds revocations this instance just appended, so its next CRL lists them without waiting for delivery. */
  noteRevoked(data: Parameters<typeof foldRevoked>[1]): void {
    foldRevoked(this.projection.state, data);
  }

  /**
   * Publishes the authority's next CRL under `metadata.commandId`, or returns the one that command
   * already published. Retries with the next number when another instance published first.
   */
  async publish(authorityId: string, metadata: CommandMetadata): Promise<DataOf<typeof CrlPublished>> {
    for (let attempt = 1; ; attempt++) {
      const { state, events } = await load(this.options.store, crlDecider, crlStream(authorityId), this.options.snapshots);
      const earlier = events.find((r) => r.event.causationId === metadata.commandId);
      if (earlier) return (earlier.event as ReturnType<typeof CrlPublished.parse>).data;
      // Other instances' revocations of this authority must be on the CRL too.
      await this.#subscription?.caughtUp();
      const { loaded: issuer, subject } = await this.#authority(authorityId);
      if (!issuer.issuer) throw new AuthorityUnavailableError('the authority key is offline: it cannot sign a CRL', { authorityId });
      const now = new Date(Date.parse(metadata.now));
      const thisUpdate = nextCrlThisUpdate(now, state.last);
      // Past a burst of 60 CRLs in a minute: wait until it is no longer in the future.
      if (thisUpdate > now) await new Promise((resolve) => setTimeout(resolve, thisUpdate.getTime() - now.getTime()));
      const nextUpdate = new Date(thisUpdate.getTime() + this.options.crlValidityHours * hour);
      const entries = [...(this.projection.state.byAuthority.get(authorityId)?.values() ?? [])];
      const crlNumber = state.lastNumber + 1;
      const built = await buildCrl({
        issuer: issuer.issuer,
        thisUpdate,
        nextUpdate,
        crlNumber: BigInt(crlNumber),
        revoked: entries.map((e) => ({ serialHex: e.serialNumber, revokedAt: new Date(e.revokedAt), reason: e.reason })),
      });
      const crlDigest = createHash('sha256').update(built.der).digest('hex');
      // Bytes first, event second: a CrlPublished always names bytes that exist.
      await this.options.crls.put(authorityId, crlDigest, built.der);
      const data: DataOf<typeof CrlPublished> = {
        authorityId,
        crlNumber,
        issuer: subject,
        thisUpdate: built.thisUpdate.toISOString(),
        nextUpdate: built.nextUpdate.toISOString(),
        url: issuer.crlUrl,
        revokedCount: entries.length,
        crlDigest,
      };
      try {
        await handleCommand({ store: this.options.store, decider: crlDecider, stream: crlStream(authorityId), command: { type: 'PublishCrl', data, metadata }, logger: this.options.logger, maxRetries: 0, ...(this.options.snapshots ? { snapshots: this.options.snapshots } : {}) });
      } catch (error) {
        const lost = isCommandRejected(error) && error.reason === 'stale-crl-number';
        if (!lost && !(error instanceof Error && error.name === 'ConcurrencyError')) throw error;
        if (attempt >= maxAttempts) throw error;
        continue; // another instance published first: rebuild with the next number
      }
      this.#derCache.set(crlDigest, built.der);
      this.projection.state.currentCrl.set(authorityId, data);
      this.options.logger.info({ event: 'ca.crl_published', authorityId, crlNumber, thisUpdate: data.thisUpdate, revokedCount: entries.length, bytes: built.der.byteLength }, 'CRL published');
      return data;
    }
  }

  /**
   * Publishes an authority's first (empty) CRL if it has none. Targets that enforce CRLs refuse
   * every certificate of an issuer without one (OpenSSL's crl_check), so an issuing CA needs a CRL
   * from the start, not from its first revocation. Idempotent across instances (one command id).
   */
  async ensurePublished(authorityId: string): Promise<DataOf<typeof CrlPublished>> {
    const current = this.projection.state.currentCrl.get(authorityId);
    if (current) return current;
    return this.publish(authorityId, { commandId: `initial-crl-${authorityId}`, now: this.options.clock().toISOString(), actor: { kind: 'service', id: 'ca' } });
  }

  /**
   * Re-publishes every CRL past half its validity, so targets never hold an expired one (an expired
   * CRL makes an enforcing broker refuse every device of that issuer). One command id per CRL
   * number: instances racing on the same refresh publish it once. Returns the authorities refreshed.
   */
  async refreshDue(now: Date = this.options.clock()): Promise<string[]> {
    const refreshed: string[] = [];
    for (const [authorityId, crl] of [...this.projection.state.currentCrl]) {
      const thisUpdate = Date.parse(crl.thisUpdate);
      const halfLife = (Date.parse(crl.nextUpdate) - thisUpdate) / 2;
      if (now.getTime() < thisUpdate + halfLife) continue;
      await this.publish(authorityId, { commandId: `refresh-crl-${authorityId}-${crl.crlNumber}`, now: now.toISOString(), actor: { kind: 'service', id: 'ca' } });
      refreshed.push(authorityId);
    }
    return refreshed;
  }

  /** The authority's current CRL and its DER (checked against the published digest), or undefined if it has none. */
  async current(authorityId: string): Promise<CurrentCrl | undefined> {
    const crl = this.projection.state.currentCrl.get(authorityId);
    if (!crl) return undefined;
    let der = this.#derCache.get(crl.crlDigest);
    if (!der) {
      der = await this.options.crls.get(authorityId, crl.crlDigest);
      if (!der || createHash('sha256').update(der).digest('hex') !== crl.crlDigest) {
        throw new AuthorityUnavailableError('the published CRL is missing from the CRL store', { authorityId, crlNumber: crl.crlNumber });
      }
      this.#derCache.clear(); // only current CRLs are worth keeping
      this.#derCache.set(crl.crlDigest, der);
    }
    return { crl, der };
  }

  async #authority(authorityId: string): Promise<{ loaded: LoadedAuthority; subject: string }> {
    const { state } = await load(this.options.store, authorityDecider, authorityStream(authorityId));
    if (state.status === 'Absent') throw new AuthorityUnavailableError('unknown authority', { authorityId });
    const { role, ownerId, subject } = state.authority;
    if (role === 'root') return { loaded: await this.options.authority.root(), subject };
    if (!ownerId) throw new AuthorityUnavailableError('issuing authority without owner', { authorityId });
    return { loaded: await this.options.authority.issuingFor(ownerId), subject };
  }

  async stop(): Promise<void> {
    await this.#subscription?.stop();
    this.#subscription = undefined;
  }
}
