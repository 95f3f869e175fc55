/**
 * A target's trust (docs/decisions/0001): its own CA as the only anchor, that CA's CRL listing the
 * target certificate of every device revoked or deprovisioned there (and every one replaced), and
 * the topic rights of the policies onboarded to it. Installed together, the target reloading only
 * when something changed, then recorded (TargetTrustAnchorInstalled, TargetCrlUpdated). One
 * target at a time: a queue per target.
 *
 * The CA's events are not taken as they come: before a device is issued a target certificate, its
 * platform certificate must verify up to the pinned root (TRUSTED_ROOT_SHA256), through an issuing
 * CA that is the authority's own (AuthorityCreated) when that is known. A refusal is logged
 * (`onboarding.trust_refused`, error level: an alert) and the device is not onboarded.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CommandMetadata } from '@tunnelkey/contracts';
import { KeyedQueue } from '@tunnelkey/concurrency';
import { derivedMetadata } from '@tunnelkey/eventstore';
import { READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import { ChainVerificationError, parseCertificate, verifyChain, type ParsedCertificate } from '@tunnelkey/pki';
import type { Logger } from 'pino';
import type { OnboardingConfig } from '../config.js';
import { TargetUnreachableError } from '../errors.js';
import { TargetWriter } from '../shared/target-writer.js';
import { TargetAuthorities, type TargetCrl, type TargetCrlEntry } from '../target-authority/target-authority.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import type { TopicRightSpec } from '../target-port/topic-plan.js';
import { CLOCK, ONBOARDING_CONFIG, ONBOARDING_LOGGER, type Clock } from '../tokens.js';
import { BatchPlanView } from '../views/batch-plan.view.js';
import { CertificatesView } from '../views/certificates.view.js';
import { isRevoked } from '../views/revoked.js';
import { TargetsView } from '../views/targets.view.js';
import { checkAnchor, pinnedRootSha256Of, type AnchorCheck } from './trust-checks.js';

export interface EnsureTrust {
  /** Policies about to be onboarded to the target: their rights are granted before their devices arrive. */
  policyIds?: readonly string[];
  /** A CA CRL whose revocations the target now enforces: recorded as TargetCrlUpdated of that CA. */
  caCrl?: { authorityId: string; crlNumber: number };
  /** Devices being cut off the target (not yet recorded as deprovisioned): listed too. */
  cut?: readonly string[];
}

export interface RefreshTrust {
  /** The CA authority whose CrlPublished triggered the refresh, and its number. */
  authorityId: string;
  crlNumber?: number;
  commandId: string;
}

/** A device's platform certificate, verified: what its target certificates are issued for. */
export type DeviceKeyCheck =
  | { ok: true; publicKeySpki: Uint8Array; notBefore: Date; notAfter: Date }
  | { ok: false; reason: 'device-not-certified' | 'target-refused'; detail: string };

/** What this instance last made a target enforce. */
interface Enforced {
  anchorFingerprint: string;
  revokedKey: string;
  /** The serial numbers on that CRL. */
  listed: ReadonlySet<string>;
  rightsKey: string;
  crl: TargetCrl;
}

interface VerifiedIssuer {
  intermediates: ParsedCertificate[];
  root: ParsedCertificate;
}

@Injectable()
export class InstallTrustHandler {
  readonly #queue = new KeyedQueue(16);
  readonly #enforced = new Map<string, Enforced>();
  /** Per target, devices cut off it whose DeviceDeprovisioned the targets view does not know yet. */
  readonly #cuts = new Map<string, Set<string>>();
  /** authorityId -> its issuing chain verified under the pinned root (or why not). */
  readonly #issuers = new Map<string, Promise<VerifiedIssuer | Extract<AnchorCheck, { ok: false }>>>();
  readonly #pinnedRootSha256: string | undefined;

  constructor(
    private readonly connected: ConnectedTargets,
    private readonly targets: TargetsView,
    private readonly certificates: CertificatesView,
    private readonly plans: BatchPlanView,
    private readonly authorities: TargetAuthorities,
    private readonly writer: TargetWriter,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ONBOARDING_CONFIG) private readonly config: OnboardingConfig,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
    @Inject(READINESS_CHECKS) readiness: ReadinessRegistry,
  ) {
    this.#pinnedRootSha256 = pinnedRootSha256Of(config.trustedRootSha256);
    readiness.add({ name: 'trusted-root-pinned', ready: () => this.#pinnedRootSha256 !== undefined });
    if (!this.#pinnedRootSha256)
      logger.error(
        { event: 'onboarding.no_trusted_root', variable: 'TRUSTED_ROOT_SHA256' },
        'no trusted root is pinned: no device will be onboarded (set TRUSTED_ROOT_SHA256)',
      );
  }

  /** Makes `targetId` enforce its complete trust now (see the file comment); reloads only on a change. */
  ensureTrust(targetId: string, metadata: CommandMetadata, options: EnsureTrust = {}): Promise<void> {
    // A cut stays listed until the targets view knows the device off the target: a trust refresh
    // queued between the cut's CRL and its DeviceDeprovisioned must not drop it from the CRL again.
    // Noted now, not when its turn comes: the first reload to run lists every cut queued behind it.
    let pending = this.#cuts.get(targetId);
    if (!pending) this.#cuts.set(targetId, (pending = new Set()));
    for (const deviceId of options.cut ?? []) pending.add(deviceId);
    return this.#queue.run(`trust-${targetId}`, async () => {
      const authority = await this.authorities.for(targetId);
      const now = this.clock();
      for (const deviceId of pending)
        if (!this.targets.activeTargets(deviceId).includes(targetId)) pending.delete(deviceId);
      const topicRights = this.#rightsOf(targetId, options.policyIds ?? []);
      const rightsKey = JSON.stringify(topicRights);
      const before = this.#enforced.get(targetId);
      const crlStillFresh =
        before !== undefined && now.getTime() < (before.crl.thisUpdate.getTime() + before.crl.nextUpdate.getTime()) / 2;
      let crl = before?.crl;
      const sameTrust =
        before?.anchorFingerprint === authority.fingerprintSha256 && before.rightsKey === rightsKey && crlStillFresh;
      // A cut alone needs its devices listed on the installed CRL, not every change since (revocations
      // the CA recorded meanwhile are listed by the refresh its CrlPublished brings): a burst of cuts
      // neither waits for one reload after another nor lists the whole fleet once per cut.
      const cutListed =
        options.cut !== undefined &&
        !options.policyIds?.length &&
        !options.caCrl &&
        options.cut.every((deviceId) => {
          const serial = this.targets.onboarding(deviceId, targetId)?.certificate?.serialNumber;
          return serial === undefined || before?.listed.has(serial) === true;
        });
      if (sameTrust && cutListed) return;
      const revoked = this.#revokedOn(targetId, now, pending);
      const revokedKey = revoked.map((entry) => entry.serialNumber).join(',');
      const changed = !sameTrust || before.revokedKey !== revokedKey;
      if (changed) {
        const connected = this.connected.get(targetId);
        if (!connected) throw new TargetUnreachableError('target is not connected', { targetId });
        const last = Math.max(
          before?.crl.crlNumber ?? 0,
          this.targets.target(targetId)?.crls.get(authority.authorityId) ?? 0,
        );
        crl = await authority.crl({
          crlNumber: last + 1,
          revoked,
          now,
          lifetimeMs: this.config.targetCrlLifetimeMs,
        });
        await connected.applyTrust({
          anchors: [{ authorityId: authority.authorityId, chainPem: [authority.certificatePem] }],
          crls: [{ authorityId: authority.authorityId, crlNumber: crl.crlNumber, crlPem: crl.crlPem }],
          topicRights,
        });
        this.#enforced.set(targetId, {
          anchorFingerprint: authority.fingerprintSha256,
          revokedKey,
          listed: new Set(revoked.map((entry) => entry.serialNumber)),
          rightsKey,
          crl,
        });
        const { authorityId, fingerprintSha256, certificatePem } = authority;
        if (this.targets.target(targetId)?.anchors.get(authorityId) !== fingerprintSha256) {
          const data = { targetId, authorityId, fingerprintSha256, certificatePem };
          const step = derivedMetadata(metadata, 'anchor', targetId, authorityId, fingerprintSha256);
          await this.writer.record(targetId, { type: 'RecordTrustAnchorInstalled', data, metadata: step });
          this.targets.noteAnchorInstalled(targetId, authorityId, fingerprintSha256, certificatePem);
        }
        await this.#recordCrl(targetId, authorityId, crl.crlNumber, crl.crlDigest, metadata);
      }
      if (options.caCrl && crl)
        await this.#recordCrl(targetId, options.caCrl.authorityId, options.caCrl.crlNumber, crl.crlDigest, metadata);
    });
  }

  /**
   * For revocation: every target with devices makes its CRL list what is revoked now and reloads
   * (when that changed), and records that it enforces the CA CRL that triggered it. Live sessions
   * stay: DeprovisionDevices cuts them. Returns the targets concerned.
   */
  async refreshTrust(input: RefreshTrust): Promise<string[]> {
    await Promise.all([this.targets.catchUp(), this.certificates.catchUp(), this.plans.catchUp()]);
    const metadata = { commandId: input.commandId, now: this.clock().toISOString() };
    const caCrl =
      input.crlNumber !== undefined ? { authorityId: input.authorityId, crlNumber: input.crlNumber } : undefined;
    // The targets with devices onboarded: one that cannot be reached fails the refresh (retried).
    const targetIds = this.targets
      .registrations()
      .map((registration) => registration.targetId)
      .filter((targetId) => this.targets.onboardedTo(targetId).length > 0);
    await Promise.all(targetIds.map((targetId) => this.ensureTrust(targetId, metadata, caCrl ? { caCrl } : {})));
    return targetIds;
  }

  /** The device's platform certificate, verified up to the pinned root: the key its target certificates carry. */
  async verifiedDeviceKey(deviceId: string): Promise<DeviceKeyCheck> {
    const certificate = this.certificates.device(deviceId)?.certificate;
    if (!certificate?.certificatePem)
      return { ok: false, reason: 'device-not-certified', detail: 'the device holds no platform certificate' };
    const issuer = await this.#issuer(certificate.authorityId);
    if ('ok' in issuer)
      return { ok: false, reason: 'target-refused', detail: `its issuing CA is refused: ${issuer.detail}` };
    try {
      const { chain } = await verifyChain({
        leaf: certificate.certificatePem,
        intermediates: issuer.intermediates,
        root: issuer.root,
        at: this.clock(),
        purpose: 'clientAuth',
      });
      const leaf = chain[0]!;
      if (leaf.subjectCommonName !== deviceId)
        return { ok: false, reason: 'target-refused', detail: 'its platform certificate names another device' };
      return { ok: true, publicKeySpki: leaf.spki, notBefore: leaf.notBefore, notAfter: leaf.notAfter };
    } catch (error) {
      const detail = error instanceof ChainVerificationError ? `${error.reason}: ${error.message}` : 'unreadable';
      this.logger.error(
        { event: 'onboarding.trust_refused', deviceId, authorityId: certificate.authorityId, detail },
        'a platform certificate does not verify: no target certificate is issued for it',
      );
      return { ok: false, reason: 'target-refused', detail: `its platform certificate does not verify (${detail})` };
    }
  }

  /** Target certificates to list: of devices revoked, or deprovisioned from the target, and every replaced one. */
  #revokedOn(targetId: string, now: Date, cutting: ReadonlySet<string>): TargetCrlEntry[] {
    const entries: TargetCrlEntry[] = [];
    for (const onboarding of this.targets.onboardedTo(targetId)) {
      const { deviceId } = onboarding;
      const device = this.certificates.device(deviceId);
      // Rotate, then revoke: a certificate a renewal replaced stays valid until the device switched.
      const pendingSince = device?.renewalPendingSince ? Date.parse(device.renewalPendingSince) : Infinity;
      for (const { serialNumber, replacedAt } of this.targets.replacedCertificates(deviceId, targetId))
        if (new Date(replacedAt).getTime() < pendingSince)
          entries.push({ serialNumber, revokedAt: new Date(replacedAt) });
      if (!onboarding.certificate) continue;
      const cut =
        cutting.has(deviceId) ||
        isRevoked(this.certificates, this.plans, deviceId) ||
        !this.targets.activeTargets(deviceId).includes(targetId);
      if (!cut) continue;
      const revokedAt = device?.revokedAt ? new Date(device.revokedAt) : now;
      entries.push({ serialNumber: onboarding.certificate.serialNumber, revokedAt });
    }
    return entries.sort((a, b) => a.serialNumber.localeCompare(b.serialNumber));
  }

  /** The topic rights the target grants: the union over its policies' rights, in a stable order. */
  #rightsOf(targetId: string, extraPolicies: readonly string[]): TopicRightSpec[] {
    const policies = new Set([...(this.targets.target(targetId)?.policies ?? []), ...extraPolicies]);
    const rights = new Map<string, TopicRightSpec>();
    for (const policyId of policies)
      for (const right of this.plans.policy(policyId)?.topicRights ?? [])
        rights.set(`${right.access} ${right.topic}`, { topic: right.topic, access: right.access });
    return [...rights.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, right]) => right);
  }

  async #recordCrl(
    targetId: string,
    authorityId: string,
    crlNumber: number,
    crlDigest: string,
    metadata: CommandMetadata,
  ): Promise<void> {
    if ((this.targets.target(targetId)?.crls.get(authorityId) ?? 0) >= crlNumber) return;
    const data = { targetId, authorityId, crlNumber, crlDigest };
    const step = derivedMetadata(metadata, 'crl', targetId, authorityId, String(crlNumber));
    await this.writer.record(targetId, { type: 'RecordCrlUpdated', data, metadata: step });
    this.targets.noteCrlEnforced(targetId, authorityId, crlNumber);
  }

  /** The authority's issuing chain, verified under the pinned root once (a refusal is retried on the next ask). */
  #issuer(authorityId: string): Promise<VerifiedIssuer | Extract<AnchorCheck, { ok: false }>> {
    let issuer = this.#issuers.get(authorityId);
    if (!issuer) {
      issuer = this.#verifyIssuer(authorityId);
      this.#issuers.set(authorityId, issuer);
      void issuer.then((result) => {
        if ('ok' in result) this.#issuers.delete(authorityId);
      });
    }
    return issuer;
  }

  async #verifyIssuer(authorityId: string): Promise<VerifiedIssuer | Extract<AnchorCheck, { ok: false }>> {
    const createdCertificatePem = this.certificates.createdCertificatePem(authorityId);
    let refused: Extract<AnchorCheck, { ok: false }> | undefined;
    for (const chainPem of this.certificates.chainCandidates(authorityId)) {
      const checked = await checkAnchor({
        authorityId,
        chainPem,
        pinnedRootSha256: this.#pinnedRootSha256,
        at: this.clock(),
        ...(createdCertificatePem !== undefined ? { createdCertificatePem } : {}),
      });
      if (checked.ok) {
        const path = checked.chainPem.map((pem) => parseCertificate(pem));
        return { intermediates: path.slice(0, -1), root: path.at(-1)! };
      }
      refused ??= checked;
      this.logger.error(
        { event: 'onboarding.trust_refused', ...checked, ok: undefined },
        'an issuing CA chain does not verify: its devices are not onboarded',
      );
    }
    return (
      refused ?? {
        ok: false,
        authorityId,
        reason: 'malformed-chain',
        detail: 'no certificate of this authority carries a chain',
      }
    );
  }
}
