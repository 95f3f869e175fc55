/**
 * Publishes an authority's CRL: every certificate it revoked, signed by the authority (pkijs via
 * @tunnelkey/pki), stored by digest, then recorded as CrlPublished with the next CRL number.
 * Idempotent per command id: a redelivered revocation finds its CrlPublished (by causation) and
 * does not publish a second CRL. Used by the revocation reaction, the refresh job, CertifyDevices
 * (an issuing CA's first CRL) and the start.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { CommandMetadata } from '@tunnelkey/contracts';
import {
  derivedCommandId,
  handleCommand,
  isCommandRejected,
  load,
  metadataOf,
  type EventStore,
  type SnapshotPolicy,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import { buildCrl } from '@tunnelkey/pki';
import type { Logger } from 'pino';
import { caActor, CertificateAuthority, type LoadedAuthority } from '../authority/certificate-authority.js';
import type { CaConfig } from '../config.js';
import type { CrlStore } from '../crl-store-port/crl-store.js';
import { authorityDecider, authorityStream } from '../deciders/authority.decider.js';
import { crlDecider, crlStream, nextCrlThisUpdate } from '../deciders/crl.decider.js';
import { AuthorityUnavailableError } from '../errors.js';
import { CA_CONFIG, CA_LOGGER, CLOCK, CRL_SNAPSHOTS, CRL_STORE, type Clock } from '../tokens.js';
import { RevokedCertificatesView, type CrlData } from '../views/revoked-certificates.view.js';

const hour = 3_600_000;
const maxAttempts = 5;

@Injectable()
export class PublishCrlHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly authority: CertificateAuthority,
    @Inject(CRL_STORE) private readonly crls: CrlStore,
    private readonly revoked: RevokedCertificatesView,
    @Inject(CA_CONFIG) private readonly config: Pick<CaConfig, 'crlValidityHours'>,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
    /**
     * An authority's CRL stream grows by one event per CRL for as long as it exists: snapshots keep
     * its reads short. (A redelivered revocation then finds its CrlPublished only among the events
     * after the last snapshot; one older than that would publish one more, identical-content CRL.)
     */
    @Inject(CRL_SNAPSHOTS) private readonly snapshots: SnapshotPolicy | undefined,
  ) {}

  /**
   * Publishes the authority's next CRL under `metadata.commandId`, or returns the one that command
   * already published. Retries with the next number when another instance published first.
   */
  async publish(authorityId: string, metadata: CommandMetadata): Promise<CrlData> {
    const stream = crlStream(authorityId);
    const snapshots = this.snapshots ? { snapshots: this.snapshots } : {};
    for (let attempt = 1; ; attempt++) {
      const { state, events } = await load(this.store, crlDecider, stream, this.snapshots);
      const earlier = events.find((r) => r.event.causationId === metadata.commandId);
      if (earlier) return earlier.event.data as CrlData;
      // Other instances' revocations of this authority must be on the CRL too.
      await this.revoked.catchUp();
      const { loaded: issuer, subject } = await this.#authority(authorityId);
      if (!issuer.issuer)
        throw new AuthorityUnavailableError('the authority key is offline: it cannot sign a CRL', { authorityId });
      const now = new Date(Date.parse(metadata.now));
      const thisUpdate = nextCrlThisUpdate(now, state.last);
      // Past a burst of 60 CRLs in a minute: wait until it is no longer in the future.
      if (thisUpdate > now) await new Promise((resolve) => setTimeout(resolve, thisUpdate.getTime() - now.getTime()));
      const nextUpdate = new Date(thisUpdate.getTime() + this.config.crlValidityHours * hour);
      const entries = this.revoked.revoked(authorityId);
      const crlNumber = state.lastNumber + 1;
      const built = await buildCrl({
        issuer: issuer.issuer,
        thisUpdate,
        nextUpdate,
        crlNumber: BigInt(crlNumber),
        revoked: entries.map((e) => ({
          serialHex: e.serialNumber,
          revokedAt: new Date(e.revokedAt),
          reason: e.reason,
        })),
      });
      const crlDigest = createHash('sha256').update(built.der).digest('hex');
      // Bytes first, event second: a CrlPublished always names bytes that exist.
      await this.crls.put(authorityId, crlDigest, built.der);
      const data: CrlData = {
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
        const command = { type: 'PublishCrl' as const, data, metadata };
        await handleCommand({
          store: this.store,
          decider: crlDecider,
          stream,
          command,
          logger: this.logger,
          maxRetries: 0,
          ...snapshots,
        });
      } catch (error) {
        const lost = isCommandRejected(error) && error.reason === 'stale-crl-number';
        if (!lost && !(error instanceof Error && error.name === 'ConcurrencyError')) throw error;
        if (attempt >= maxAttempts) throw error;
        continue; // another instance published first: rebuild with the next number
      }
      this.revoked.notePublished(data);
      const { thisUpdate: at } = data;
      const logged = {
        event: 'ca.crl_published',
        authorityId,
        crlNumber,
        thisUpdate: at,
        revokedCount: entries.length,
        bytes: built.der.byteLength,
      };
      this.logger.info(logged, 'CRL published');
      return data;
    }
  }

  /**
   * Publishes an authority's first (empty) CRL if it has none. Targets that enforce CRLs refuse
   * every certificate of an issuer without one (OpenSSL's crl_check), so an issuing CA needs a CRL
   * from the start, not from its first revocation. Idempotent across instances (one command id).
   */
  async ensurePublished(authorityId: string): Promise<CrlData> {
    const current = this.revoked.currentCrl(authorityId);
    if (current) return current;
    return this.publish(
      authorityId,
      metadataOf({ commandId: derivedCommandId('initial-crl', authorityId), actor: caActor }, this.clock()),
    );
  }

  /**
   * Re-publishes every CRL past half its validity, so targets never hold an expired one (an expired
   * CRL makes an enforcing broker refuse every device of that issuer). One command id per CRL
   * number: instances racing on the same refresh publish it once. Returns the authorities refreshed.
   */
  async refreshDue(now: Date = this.clock()): Promise<string[]> {
    const refreshed: string[] = [];
    for (const crl of this.revoked.currentCrls()) {
      const thisUpdate = Date.parse(crl.thisUpdate);
      const halfLife = (Date.parse(crl.nextUpdate) - thisUpdate) / 2;
      if (now.getTime() < thisUpdate + halfLife) continue;
      const commandId = derivedCommandId('refresh-crl', crl.authorityId, String(crl.crlNumber));
      await this.publish(crl.authorityId, metadataOf({ commandId, actor: caActor }, now));
      refreshed.push(crl.authorityId);
    }
    return refreshed;
  }

  async #authority(authorityId: string): Promise<{ loaded: LoadedAuthority; subject: string }> {
    const { state } = await load(this.store, authorityDecider, authorityStream(authorityId));
    if (state.status === 'Absent') throw new AuthorityUnavailableError('unknown authority', { authorityId });
    const { role, ownerId, subject } = state.authority;
    if (role === 'root') return { loaded: await this.authority.root(), subject };
    if (!ownerId) throw new AuthorityUnavailableError('issuing authority without owner', { authorityId });
    return { loaded: await this.authority.issuingFor(ownerId), subject };
  }
}
