/**
 * Onboarding's part of a revocation (issue 6): when the CA revokes a device's certificate, disable
 * the device on every target it is onboarded to (dynamic security drops its live session); when
 * the CA publishes a new CRL, make every target that trusts that authority enforce it (so new
 * handshakes with the revoked certificate fail). The revocation saga waits for the events these
 * record (DeviceDeprovisioned, TargetCrlUpdated).
 *
 * Durable subscriptions shared by all onboarding instances (one durable name per reaction), so a
 * restart resumes where it stopped. The command ids derive from the CA event's id: a redelivered
 * event records nothing twice.
 */
import { CertificateRevoked, CrlPublished } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent, Subscription } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { OnboardingRuntime } from '../onboarding-runtime.js';

export const revokedCertificatesDurable = 'onboarding-revoked-certificates';
export const publishedCrlsDurable = 'onboarding-published-crls';

type Deprovisioning = Pick<OnboardingRuntime, 'deprovisionDevices' | 'refreshTrust'>;

export class RevocationReactions {
  readonly #subscriptions: Subscription[] = [];

  constructor(
    private readonly store: EventStore,
    private readonly runtime: Deprovisioning,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.#subscriptions.push(
      await this.store.subscribe({ durable: revokedCertificatesDurable, context: 'ca', aggregate: 'device' }, (recorded) => this.#onDeviceEvent(recorded)),
      await this.store.subscribe({ durable: publishedCrlsDurable, context: 'ca', aggregate: 'crl' }, (recorded) => this.#onCrlEvent(recorded)),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.#subscriptions.splice(0).map((s) => s.stop()));
  }

  async #onDeviceEvent(recorded: RecordedEvent): Promise<void> {
    if (!CertificateRevoked.is(recorded.event)) return;
    const { deviceId, revocationId } = recorded.event.data;
    const outcome = await this.runtime.deprovisionDevices({ deviceIds: [deviceId], reason: 'revoked', revocationId, commandId: `deprovision-${recorded.event.id}` });
    // Not acked while a target could not be reached: redelivered with backoff (what succeeded is recorded once).
    if (outcome.failed > 0) throw new DeprovisioningIncomplete(`${outcome.failed} target(s) could not disable ${deviceId} yet`);
    this.logger.info({ event: 'onboarding.revoked_device_deprovisioned', deviceId, revocationId, ...outcome }, 'revoked device deprovisioned');
  }

  async #onCrlEvent(recorded: RecordedEvent): Promise<void> {
    if (!CrlPublished.is(recorded.event)) return;
    const { authorityId, crlNumber } = recorded.event.data;
    const targets = await this.runtime.refreshTrust({ authorityId, commandId: `crl-${recorded.event.id}` });
    this.logger.info({ event: 'onboarding.crl_enforced', authorityId, crlNumber, targets: targets.length }, 'new CRL enforced on targets');
  }
}

export class DeprovisioningIncomplete extends Error {
  override readonly name = 'DeprovisioningIncomplete';
  readonly code = 'DEPROVISIONING_INCOMPLETE';
}
