/**
 * A target's trust: the issuing CA chains of the devices it serves and their current CRLs,
 * installed together (the target reloads only when something changed), then recorded
 * (TargetTrustAnchorInstalled, TargetCrlUpdated). One target at a time: a queue per target.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { CommandMetadata } from '@tunnelkey/contracts';
import { KeyedQueue } from '@tunnelkey/concurrency';
import { derivedMetadata } from '@tunnelkey/eventstore';
import { TargetUnreachableError } from '../errors.js';
import { crlDigestOfPem, type CrlSource } from '../shared/crl-source.js';
import { TargetWriter } from '../shared/target-writer.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import type { RevocationList } from '../target-port/onboarding-target.js';
import { CLOCK, CRL_SOURCE, type Clock } from '../tokens.js';
import { CertificatesView } from '../views/certificates.view.js';
import { TargetsView } from '../views/targets.view.js';

export interface RefreshTrust {
  authorityId: string;
  /** The CRL itself, when the caller has it (else fetched from the CA's CrlPublished). */
  crl?: RevocationList;
  commandId: string;
}

/** SHA-256 of a PEM certificate's DER, as TargetTrustAnchorInstalled records it. */
const fingerprintOf = (pem: string): string =>
  createHash('sha256')
    .update(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'))
    .digest('hex');

@Injectable()
export class InstallTrustHandler {
  readonly #queue = new KeyedQueue(16);
  /** authorityId -> the newest CRL fetched (a CRL is fetched once, whatever the number of targets). */
  readonly #crls = new Map<string, RevocationList>();

  constructor(
    private readonly connected: ConnectedTargets,
    private readonly targets: TargetsView,
    private readonly certificates: CertificatesView,
    private readonly writer: TargetWriter,
    @Inject(CRL_SOURCE) private readonly crlSource: CrlSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Makes `targetId` trust `authorities` (and keep trusting the ones it has) with their current CRLs. */
  ensureTrust(targetId: string, authorities: readonly string[], metadata: CommandMetadata): Promise<void> {
    return this.#queue.run(`trust-${targetId}`, async () => {
      const installed = this.targets.target(targetId)?.anchors ?? new Map<string, string>();
      const wanted = [...new Set([...installed.keys(), ...authorities])].filter((a) => this.certificates.chain(a));
      const crls: RevocationList[] = [];
      for (const authorityId of wanted) {
        const crl = await this.#currentCrl(authorityId);
        if (crl) crls.push(crl);
      }
      const enforced = this.targets.target(targetId)?.crls ?? new Map<string, number>();
      const changed =
        wanted.some((a) => !installed.has(a)) || crls.some((c) => (enforced.get(c.authorityId) ?? 0) < c.crlNumber);
      if (!changed) return;
      const target = this.connected.get(targetId);
      if (!target) throw new TargetUnreachableError('target is not connected', { targetId });
      const anchors = wanted.map((authorityId) => ({ authorityId, chainPem: this.certificates.chain(authorityId)! }));
      await target.applyTrust({ anchors, crls });
      for (const authorityId of wanted) {
        const fingerprintSha256 = fingerprintOf(this.certificates.chain(authorityId)![0]!);
        // Recorded before: the decider would decide nothing.
        if (installed.get(authorityId) === fingerprintSha256) continue;
        const data = { targetId, authorityId, fingerprintSha256 };
        const step = derivedMetadata(metadata, 'anchor', targetId, authorityId, fingerprintSha256);
        await this.writer.record(targetId, { type: 'RecordTrustAnchorInstalled', data, metadata: step });
        this.targets.noteAnchorInstalled(targetId, authorityId, fingerprintSha256);
      }
      for (const crl of crls) {
        const data = {
          targetId,
          authorityId: crl.authorityId,
          crlNumber: crl.crlNumber,
          crlDigest: crlDigestOfPem(crl.crlPem),
        };
        const step = derivedMetadata(metadata, 'crl', targetId, crl.authorityId, String(crl.crlNumber));
        await this.writer.record(targetId, { type: 'RecordCrlUpdated', data, metadata: step });
        this.targets.noteCrlEnforced(targetId, crl.authorityId, crl.crlNumber);
      }
    });
  }

  /**
   * For revocation: makes every target that trusts `authorityId` enforce its newest CRL (from the
   * CA's CrlPublished, or handed in) and reload. Live sessions stay: DeprovisionDevices cuts them.
   * Returns the targets concerned.
   */
  async refreshTrust(input: RefreshTrust): Promise<string[]> {
    await Promise.all([this.targets.catchUp(), this.certificates.catchUp()]);
    if (input.crl) this.#crls.set(input.authorityId, input.crl);
    const metadata = { commandId: input.commandId, now: this.clock().toISOString() };
    const targetIds = this.targets.targetsTrusting(input.authorityId);
    await Promise.all(targetIds.map((targetId) => this.ensureTrust(targetId, [input.authorityId], metadata)));
    return targetIds;
  }

  async #currentCrl(authorityId: string): Promise<RevocationList | undefined> {
    const published = this.certificates.publishedCrl(authorityId);
    const cached = this.#crls.get(authorityId);
    if (!published || (cached && cached.crlNumber >= published.crlNumber)) return cached;
    const { crlPem } = await this.crlSource.fetch({ authorityId, url: published.url, crlDigest: published.crlDigest });
    const crl = { authorityId, crlNumber: published.crlNumber, crlPem };
    this.#crls.set(authorityId, crl);
    return crl;
  }
}
