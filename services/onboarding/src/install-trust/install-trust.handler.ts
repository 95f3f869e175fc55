/**
 * A target's trust: the issuing CA chains of the devices it serves and their current CRLs,
 * installed together (the target reloads only when something changed), then recorded
 * (TargetTrustAnchorInstalled, TargetCrlUpdated). One target at a time: a queue per target.
 *
 * Nothing is installed as the CA's events carry it (trust-checks.ts): a chain must verify under the
 * pinned root (TRUSTED_ROOT_SHA256) and be the authority's AuthorityCreated certificate when known;
 * a CRL must verify under that issuing CA and its number never goes down. A refusal is logged
 * (`onboarding.trust_refused`, error level: an alert) and the target keeps what it had.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CommandMetadata } from '@tunnelkey/contracts';
import { KeyedQueue } from '@tunnelkey/concurrency';
import { derivedMetadata } from '@tunnelkey/eventstore';
import { READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { OnboardingConfig } from '../config.js';
import { TargetUnreachableError, TrustRefusedError } from '../errors.js';
import { type CrlSource } from '../shared/crl-source.js';
import { TargetWriter } from '../shared/target-writer.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import type { RevocationList } from '../target-port/onboarding-target.js';
import { CLOCK, CRL_SOURCE, ONBOARDING_CONFIG, ONBOARDING_LOGGER, type Clock } from '../tokens.js';
import { CertificatesView } from '../views/certificates.view.js';
import { TargetsView } from '../views/targets.view.js';
import {
  checkAnchor,
  checkCrl,
  pinnedRootSha256Of,
  type AnchorCheck,
  type CrlCheck,
  type CrlFloor,
  type VerifiedAnchor,
} from './trust-checks.js';

export interface RefreshTrust {
  authorityId: string;
  /** The CRL itself, when the caller has it (else fetched from the CA's CrlPublished). */
  crl?: RevocationList;
  commandId: string;
}

@Injectable()
export class InstallTrustHandler {
  readonly #queue = new KeyedQueue(16);
  /** authorityId -> the newest CRL accepted (a CRL is fetched and checked once, whatever the number of targets). */
  readonly #crls = new Map<string, { crl: RevocationList; crlDigest: string }>();
  readonly #pinnedRootSha256: string | undefined;

  constructor(
    private readonly connected: ConnectedTargets,
    private readonly targets: TargetsView,
    private readonly certificates: CertificatesView,
    private readonly writer: TargetWriter,
    @Inject(CRL_SOURCE) private readonly crlSource: CrlSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ONBOARDING_CONFIG) config: OnboardingConfig,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
    @Inject(READINESS_CHECKS) readiness: ReadinessRegistry,
  ) {
    this.#pinnedRootSha256 = pinnedRootSha256Of(config.trustedRootSha256);
    readiness.add({ name: 'trusted-root-pinned', ready: () => this.#pinnedRootSha256 !== undefined });
    if (!this.#pinnedRootSha256)
      logger.error(
        { event: 'onboarding.no_trusted_root', variable: 'TRUSTED_ROOT_SHA256' },
        'no trusted root is pinned: no target will be given any trust (set TRUSTED_ROOT_SHA256)',
      );
  }

  /** Makes `targetId` trust `authorities` (and keep trusting the ones it has) with their current CRLs. */
  ensureTrust(targetId: string, authorities: readonly string[], metadata: CommandMetadata): Promise<void> {
    return this.#queue.run(`trust-${targetId}`, async () => {
      const target = this.targets.target(targetId);
      const installed = target?.anchors ?? new Map<string, string>();
      // Installed ones stay wanted while a chain of theirs is known; a requested one always is (no chain: refused).
      const wanted = [
        ...new Set([
          ...[...installed.keys()].filter((a) => this.certificates.chainCandidates(a).length > 0),
          ...authorities,
        ]),
      ];
      const anchors: VerifiedAnchor[] = [];
      for (const authorityId of wanted) {
        const checked = await this.#verifiedAnchor(authorityId, targetId);
        if (checked.ok) anchors.push(checked);
        // A new authority that does not verify: nothing is installed, the caller's devices fail.
        else if (!installed.has(authorityId))
          throw new TrustRefusedError(`the issuing CA chain of ${authorityId} is refused: ${checked.detail}`, {
            targetId,
            authorityId,
            reason: checked.reason,
          });
        // One installed before that no longer verifies is left out: the target stops trusting it.
      }
      const crls: RevocationList[] = [];
      for (const anchor of anchors) {
        const floor = this.#floor(targetId, anchor.authorityId);
        const crl = await this.#currentCrl(anchor, floor, targetId);
        if (crl) crls.push(crl);
      }
      const enforced = target?.crls ?? new Map<string, number>();
      const changed =
        anchors.some((a) => installed.get(a.authorityId) !== a.fingerprintSha256) ||
        anchors.length < installed.size ||
        crls.some((c) => (enforced.get(c.authorityId) ?? 0) < c.crlNumber);
      if (!changed) return;
      const connected = this.connected.get(targetId);
      if (!connected) throw new TargetUnreachableError('target is not connected', { targetId });
      await connected.applyTrust({
        anchors: anchors.map(({ authorityId, chainPem }) => ({ authorityId, chainPem })),
        crls,
      });
      for (const { authorityId, fingerprintSha256 } of anchors) {
        // Recorded before: the decider would decide nothing.
        if (installed.get(authorityId) === fingerprintSha256) continue;
        const data = { targetId, authorityId, fingerprintSha256 };
        const step = derivedMetadata(metadata, 'anchor', targetId, authorityId, fingerprintSha256);
        await this.writer.record(targetId, { type: 'RecordTrustAnchorInstalled', data, metadata: step });
        this.targets.noteAnchorInstalled(targetId, authorityId, fingerprintSha256);
      }
      for (const crl of crls) {
        const crlDigest = this.#crls.get(crl.authorityId)!.crlDigest;
        const data = { targetId, authorityId: crl.authorityId, crlNumber: crl.crlNumber, crlDigest };
        const step = derivedMetadata(metadata, 'crl', targetId, crl.authorityId, String(crl.crlNumber));
        await this.writer.record(targetId, { type: 'RecordCrlUpdated', data, metadata: step });
        this.targets.noteCrlEnforced(targetId, crl.authorityId, crl.crlNumber, crlDigest);
      }
    });
  }

  /**
   * For revocation: makes every target that trusts `authorityId` enforce its newest CRL (from the
   * CA's CrlPublished, or handed in) and reload. Live sessions stay: DeprovisionDevices cuts them.
   * A CRL that does not check out is refused (logged) and the targets keep the one they have.
   * Returns the targets concerned.
   */
  async refreshTrust(input: RefreshTrust): Promise<string[]> {
    await Promise.all([this.targets.catchUp(), this.certificates.catchUp()]);
    if (input.crl) {
      const anchor = await this.#verifiedAnchor(input.authorityId);
      if (anchor.ok) await this.#accept(anchor, input.crl, undefined);
    }
    const metadata = { commandId: input.commandId, now: this.clock().toISOString() };
    const targetIds = this.targets.targetsTrusting(input.authorityId);
    await Promise.all(targetIds.map((targetId) => this.ensureTrust(targetId, [input.authorityId], metadata)));
    return targetIds;
  }

  /** The first chain seen for the authority that checks out, or why none does (logged). */
  async #verifiedAnchor(authorityId: string, targetId?: string): Promise<AnchorCheck> {
    const createdCertificatePem = this.certificates.createdCertificatePem(authorityId);
    let refused: AnchorCheck | undefined;
    for (const chainPem of this.certificates.chainCandidates(authorityId)) {
      const checked = await checkAnchor({
        authorityId,
        chainPem,
        pinnedRootSha256: this.#pinnedRootSha256,
        at: this.clock(),
        ...(createdCertificatePem !== undefined ? { createdCertificatePem } : {}),
      });
      if (checked.ok) return checked;
      refused ??= checked;
      this.#refused(checked, targetId);
    }
    if (refused) return refused;
    const none: AnchorCheck =
      createdCertificatePem !== undefined
        ? {
            ok: false,
            authorityId,
            reason: 'not-the-created-authority',
            detail: 'no certificate of this authority carries a chain starting with its AuthorityCreated certificate',
          }
        : {
            ok: false,
            authorityId,
            reason: 'malformed-chain',
            detail: 'no certificate of this authority carries a chain',
          };
    this.#refused(none, targetId);
    return none;
  }

  /** What a new CRL of the authority must not go below: the newest accepted here, or what the target enforces. */
  #floor(targetId: string, authorityId: string): CrlFloor | undefined {
    const accepted = this.#crls.get(authorityId);
    const target = this.targets.target(targetId);
    const enforced = target?.crls.get(authorityId);
    if (enforced !== undefined && (!accepted || enforced > accepted.crl.crlNumber)) {
      const crlDigest = target?.crlDigests.get(authorityId);
      return { crlNumber: enforced, ...(crlDigest ? { crlDigest } : {}) };
    }
    return accepted ? { crlNumber: accepted.crl.crlNumber, crlDigest: accepted.crlDigest } : undefined;
  }

  /** The newest CRL accepted for the anchor's authority (fetching and checking a newer published one). */
  async #currentCrl(anchor: VerifiedAnchor, floor: CrlFloor | undefined, targetId: string) {
    const { authorityId } = anchor;
    const published = this.certificates.publishedCrl(authorityId);
    const accepted = this.#crls.get(authorityId);
    if (published && (!accepted || accepted.crl.crlNumber < published.crlNumber)) {
      const { crlPem } = await this.crlSource.fetch({
        authorityId,
        url: published.url,
        crlDigest: published.crlDigest,
      });
      await this.#accept(anchor, { authorityId, crlNumber: published.crlNumber, crlPem }, floor, targetId);
    }
    const current = this.#crls.get(authorityId)?.crl;
    // Below what the target enforces (e.g. after a restart, the newer one refused): the target keeps its own.
    if (current && floor && current.crlNumber < floor.crlNumber) return undefined;
    return current;
  }

  /** Checks a CRL and keeps it as the authority's newest when it passes; a refusal is logged. */
  async #accept(anchor: VerifiedAnchor, crl: RevocationList, floor: CrlFloor | undefined, targetId?: string) {
    const accepted = this.#crls.get(anchor.authorityId);
    const atLeast =
      accepted && (!floor || accepted.crl.crlNumber >= floor.crlNumber)
        ? { crlNumber: accepted.crl.crlNumber, crlDigest: accepted.crlDigest }
        : floor;
    const checked = await checkCrl({ crl, issuing: anchor.issuing, ...(atLeast ? { floor: atLeast } : {}) });
    if (!checked.ok) return this.#refused(checked, targetId);
    if (!checked.unchanged) this.#crls.set(anchor.authorityId, { crl: checked.crl, crlDigest: checked.crlDigest });
    else if (!accepted) this.#crls.set(anchor.authorityId, { crl: checked.crl, crlDigest: checked.crlDigest });
  }

  #refused(refusal: Extract<AnchorCheck | CrlCheck, { ok: false }>, targetId: string | undefined): void {
    this.logger.error(
      { event: 'onboarding.trust_refused', ...(targetId ? { targetId } : {}), ...refusal, ok: undefined },
      'trust refused: it does not verify, nothing of it is installed',
    );
  }
}
