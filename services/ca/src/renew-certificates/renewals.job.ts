/**
 * Moves renewals on, every second and whenever a renewal's CSR is answered: a renewal whose CSR
 * got its certificate is recorded renewed (DeviceCertificateRenewed); one whose CSR was refused or
 * given up, or that outlived its expiry, is given up (CertificateRenewalExpired; the previous
 * certificate stays valid). Publishes the CRL of each authority whose certificates a completed
 * renewal superseded: one CRL for the renewals completed since its last one, at most one every
 * `supersededCrlEveryMs` per authority. A batch of 1,000 renewals otherwise published one per sweep
 * (68 in 7 s), each rebuilt whole, installed on every target and reloaded by its broker while it
 * was taking the devices' new handshakes, and it used up the burst room CRLs have (nextCrlThisUpdate)
 * that a revocation after a compromise may need. A superseded certificate is not a compromised one:
 * the broker refusing it up to ~2 s later costs nothing. Every `renewalCheckSeconds` it
 * starts the scheduled renewals: certificates past their policy's share of lifetime (with jitter).
 * Every step is recorded with a derived id: instances racing on one renewal record it once, and a
 * restart resumes from the log (the renewals view).
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { mapBounded, PeriodicTask } from '@tunnelkey/concurrency';
import { derivedCommandId, describeError } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import { caActor } from '../authority/certificate-authority.js';
import type { CaConfig } from '../config.js';
import { PublishCrlHandler } from '../publish-crl/publish-crl.handler.js';
import { CA_CONFIG, CA_LOGGER, CLOCK, type Clock } from '../tokens.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';
import { RenewalsView, type RenewalRecord } from '../views/renewals.view.js';
import { RenewCertificatesHandler } from './renew-certificates.handler.js';
import { RenewalRecorder } from './renewal-recorder.js';
import { defaultRenewalSettings, isRenewalDue } from './renewal-schedule.js';

const sweepEveryMs = 1_000;
const maxConcurrentSteps = 16;
const supersededCrlEveryMs = 2_000;

@Injectable()
export class RenewalsJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #task = new PeriodicTask(() => this.#sweep(), sweepEveryMs);
  /** Authorities whose CRL must list certificates superseded since their last CRL. */
  readonly #superseded = new Set<string>();
  /** When this instance last published a CRL for superseded certificates, per authority. */
  readonly #lastSupersededCrl = new Map<string, number>();
  #stopListening: (() => void) | undefined;
  #lastScheduledCheck = 0;
  #started = false;

  constructor(
    private readonly renewals: RenewalsView,
    private readonly eligibility: DeviceEligibilityView,
    private readonly recorder: RenewalRecorder,
    private readonly starter: RenewCertificatesHandler,
    private readonly crls: PublishCrlHandler,
    @Inject(CA_CONFIG) private readonly config: Pick<CaConfig, 'renewalCheckSeconds'>,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (this.#started) return; // the hybrid app bootstraps twice
    this.#started = true;
    this.#stopListening = this.renewals.onCsrSettled(() => void this.sweep().catch(() => undefined));
    this.#task.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopListening?.();
    await this.#task.stop();
  }

  /** One sweep (joins the one running). */
  sweep(): Promise<void> {
    return this.#task.runNow();
  }

  /** A completed renewal superseded a certificate of this authority: its next CRL, soon. */
  superseded(authorityId: string): void {
    this.#superseded.add(authorityId);
    void this.sweep().catch(() => undefined);
  }

  async #sweep(): Promise<void> {
    const now = this.clock().getTime();
    const steps = this.renewals.open().filter((r) => this.#stepDue(r, now));
    await mapBounded(steps, maxConcurrentSteps, (renewal) => this.#step(renewal, now));
    await this.#publishCrls();
    const checkMs = this.config.renewalCheckSeconds * 1000;
    if (checkMs > 0 && now - this.#lastScheduledCheck >= checkMs) {
      this.#lastScheduledCheck = now;
      await this.#startScheduled(now);
    }
  }

  #stepDue(renewal: RenewalRecord, now: number): boolean {
    if (renewal.status === 'requested' && renewal.csr !== undefined) return true;
    return now >= Date.parse(renewal.expiresAt);
  }

  async #step(renewal: RenewalRecord, now: number): Promise<void> {
    try {
      if (renewal.status === 'requested' && renewal.csr === 'issued' && now < Date.parse(renewal.expiresAt)) {
        await this.recorder.renewed(renewal);
        return;
      }
      const { recorded } = await this.recorder.expire(renewal);
      if (recorded)
        this.logger.warn(
          { event: 'ca.renewal_expired', deviceId: renewal.deviceId, renewalId: renewal.renewalId, csr: renewal.csr },
          'renewal given up; the previous certificate stays valid',
        );
    } catch (error) {
      this.logger.warn(
        { event: 'ca.renewal_step_failed', renewalId: renewal.renewalId, error: describeError(error) },
        'renewal step not recorded; tried again at the next sweep',
      );
    }
  }

  async #publishCrls(): Promise<void> {
    const now = this.clock();
    const due = [...this.#superseded].filter(
      (authorityId) => now.getTime() - (this.#lastSupersededCrl.get(authorityId) ?? 0) >= supersededCrlEveryMs,
    );
    for (const authorityId of due) {
      this.#superseded.delete(authorityId);
      this.#lastSupersededCrl.set(authorityId, now.getTime());
      try {
        await this.crls.publish(authorityId, {
          commandId: derivedCommandId('superseded', authorityId, String(now.getTime())),
          now: now.toISOString(),
          actor: caActor,
        });
      } catch (error) {
        this.#superseded.add(authorityId); // the next sweep tries again
        this.logger.warn(
          { event: 'ca.superseded_crl_failed', authorityId, error: describeError(error) },
          'CRL listing superseded certificates not published yet',
        );
      }
    }
  }

  async #startScheduled(now: number): Promise<void> {
    const due: string[] = [];
    for (const device of this.renewals.renewable()) {
      const policy = this.eligibility.facts(device.deviceId).policy;
      if (!policy) continue;
      const settings = policy.renewal ?? defaultRenewalSettings;
      if (isRenewalDue({ deviceId: device.deviceId, ...device.current }, settings, now)) due.push(device.deviceId);
    }
    if (due.length === 0) return;
    // One operation per check window, named after the window: CA instances checking in the same window
    // derive the same renewal ids, so a device is renewed once; its progress reads like an operator's.
    const window = Math.floor(now / (this.config.renewalCheckSeconds * 1000));
    const operationId = `scheduled-${this.config.renewalCheckSeconds}s-${window}`;
    try {
      await this.starter.start(due, 'scheduled', operationId);
    } catch (error) {
      this.logger.warn(
        { event: 'ca.scheduled_renewals_failed', devices: due.length, error: describeError(error) },
        'scheduled renewals not started; tried again at the next check',
      );
    }
  }
}
