/**
 * Revocation saga -> CA: revoke every certificate of the named devices (CertificateRevoked per
 * serial), publish one new CRL per authority that gained entries (CrlPublished), then record
 * RevocationApplied. Requests queued behind the one applied may be taken along: their
 * certificates revoked under their own command ids, one CRL for all, a RevocationApplied for each.
 * Every write's command id derives from its own revocation, so a redelivery after a crash
 * completes what is missing and repeats nothing.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CommandMetadata } from '@tunnelkey/contracts';
import { mapBounded } from '@tunnelkey/concurrency';
import { derivedMetadata, handleCommand, load, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { caActor } from '../authority/certificate-authority.js';
import { deviceCertificatesStream } from '../deciders/device-certificates.decider.js';
import { PublishCrlHandler } from '../publish-crl/publish-crl.handler.js';
import { CA_LOGGER, CLOCK, type Clock } from '../tokens.js';
import type { RevocationRequest } from '../views/pending-revocation-requests.view.js';
import { RevokedCertificatesView } from '../views/revoked-certificates.view.js';
import {
  caRevocationStream,
  revocationAppliedDecider,
  type RevocationAppliedData,
} from './revocation-applied.decider.js';
import { revokeCertificatesDecider } from './revoke-certificates.decider.js';

/** Device appends (and record reads) in flight per revocation. */
const concurrency = 32;

interface Outcome {
  authorities: Set<string>;
  certificatesRevoked: number;
  alreadyRevoked: number;
  devices: number;
}

@Injectable()
export class RevokeCertificatesHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly crls: PublishCrlHandler,
    private readonly revoked: RevokedCertificatesView,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Applies a revocation, and with it `takenAlong` (requests queued behind it): idempotent, as every
   * write's command id derives from its own revocation. Returns what is recorded for each request
   * applied now or before, `request`'s first.
   */
  async apply(
    request: RevocationRequest,
    takenAlong: readonly RevocationRequest[] = [],
  ): Promise<RevocationAppliedData[]> {
    const started = performance.now();
    const { store, logger } = this;
    const done = await load(store, revocationAppliedDecider, caRevocationStream(request.data.revocationId));
    if (done.state.status === 'Applied') return [done.state.applied];
    const others = takenAlong.filter((other) => other.data.revocationId !== request.data.revocationId);
    const states = await mapBounded(others, concurrency, (other) =>
      load(store, revocationAppliedDecider, caRevocationStream(other.data.revocationId)),
    );
    const pending = [request, ...others.filter((_other, i) => states[i]!.state.status !== 'Applied')];

    // Each revocation's writes derive from `<revocationId>` under the request's correlation.
    const base = (of: RevocationRequest): CommandMetadata =>
      metadataOf({ commandId: of.data.revocationId, correlationId: of.correlationId, actor: caActor }, this.clock());
    const outcomes = new Map<string, Outcome>(
      pending.map((r) => [
        r.data.revocationId,
        { authorities: new Set<string>(), certificatesRevoked: 0, alreadyRevoked: 0, devices: 0 },
      ]),
    );
    const work = pending.flatMap((r) => [...new Set(r.data.deviceIds)].map((deviceId) => ({ request: r, deviceId })));
    await mapBounded(work, concurrency, async ({ request: of, deviceId }) => {
      const { revocationId, reason } = of.data;
      const outcome = outcomes.get(revocationId)!;
      outcome.devices++;
      const result = await handleCommand({
        store,
        decider: revokeCertificatesDecider,
        stream: deviceCertificatesStream(deviceId),
        command: {
          type: 'RevokeCertificates',
          data: { deviceId, revocationId, reason },
          metadata: derivedMetadata(base(of), 'revoke', deviceId),
        },
        logger,
        maxRetries: 10,
      });
      // Earlier events of this command (a redelivery) count as this revocation's: their CRL may not be published yet.
      for (const event of result.events) {
        if (event.type !== 'CertificateRevoked') continue;
        this.revoked.noteRevoked(event.data);
        outcome.authorities.add(event.data.authorityId);
        outcome.certificatesRevoked++;
      }
      if (!result.events.some((event) => event.type === 'CertificateRevoked')) outcome.alreadyRevoked++;
    });

    // One CRL per authority for the whole pass, named after the leading revocation.
    const authorities = [...new Set([...outcomes.values()].flatMap((o) => [...o.authorities]))].sort();
    const crls = new Map<string, RevocationAppliedData['crls'][number]>();
    for (const authorityId of authorities) {
      const crl = await this.crls.publish(authorityId, derivedMetadata(base(request), 'crl', authorityId));
      crls.set(authorityId, { authorityId, crlNumber: crl.crlNumber, crlDigest: crl.crlDigest });
    }
    // The CRLs are out (targets act on CrlPublished); now the record of each revocation.
    const recorded = await mapBounded(pending, concurrency, async (of) => {
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
        command: { type: 'RecordRevocationApplied', data: applied, metadata: derivedMetadata(base(of), 'applied') },
        logger,
      });
      return applied;
    });
    const ms = Math.round(performance.now() - started);
    const [leading] = recorded as [RevocationAppliedData];
    const logged = {
      event: 'ca.revocation_applied',
      ...leading,
      crls: crls.size,
      takenAlong: recorded.length - 1,
      ms,
      correlationId: request.correlationId,
    };
    logger.info(logged, 'revocation applied');
    return recorded;
  }
}
