/**
 * Onboarding's part of a revocation (issue 6), driven by the CA's CrlPublished: first every target
 * that trusts the authority installs the new CRL and reloads (new handshakes with a revoked
 * certificate fail), then the devices revoked under that authority are disabled on every target
 * they are onboarded to (dynamic security drops the live session). In that order, so a dropped
 * device cannot reconnect in between: with certificate logins Mosquitto does not refuse a disabled
 * client, only the CRL does. The revocation saga waits for the events recorded here
 * (TargetCrlUpdated, DeviceDeprovisioned).
 *
 * One durable subscription shared by all onboarding instances, so a restart resumes where it
 * stopped. Command ids derive from the CA event's id: a redelivered event records nothing twice.
 */
import { CrlPublished } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent, Subscription } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { OnboardingRuntime } from '../onboarding-runtime.js';

export const publishedCrlsDurable = 'onboarding-published-crls';

type Deprovisioning = Pick<OnboardingRuntime, 'deprovisionDevices' | 'refreshTrust' | 'facts'>;

export class RevocationReactions {
  #subscription: Subscription | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly runtime: Deprovisioning,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.#subscription = await this.store.subscribe({ durable: publishedCrlsDurable, context: 'ca', aggregate: 'crl' }, (recorded) => this.#onCrlEvent(recorded));
  }

  async stop(): Promise<void> {
    await this.#subscription?.stop();
    this.#subscription = undefined;
  }

  async #onCrlEvent(recorded: RecordedEvent): Promise<void> {
    if (!CrlPublished.is(recorded.event)) return;
    const { authorityId, crlNumber } = recorded.event.data;
    const started = performance.now();
    // refreshTrust first catches the facts up with the log: the newest CRL known now is installed, so
    // a burst of revocations costs one reload, and the CrlPublished events behind it find nothing to do.
    const targets = await this.runtime.refreshTrust({ authorityId, commandId: `crl-${recorded.event.id}` });
    const trustedAt = performance.now();
    const state = this.runtime.facts.state;
    // Only devices whose certificate is on the CRL every target now enforces: a device dropped
    // before its target refuses its handshake would reconnect at once.
    const enforced = Math.min(...targets.map((targetId) => state.targets.get(targetId)?.crls.get(authorityId) ?? 0));
    const byRevocation = new Map<string, string[]>();
    for (const device of state.devices.values()) {
      if (!device.revoked || device.certificate?.authorityId !== authorityId || !device.revocationId) continue;
      if (device.listedOnCrl === undefined || device.listedOnCrl > enforced) continue;
      if (![...device.onboardedTo.keys()].some((targetId) => !device.deprovisionedFrom.has(targetId))) continue;
      byRevocation.set(device.revocationId, [...(byRevocation.get(device.revocationId) ?? []), device.deviceId]);
    }
    let failed = 0;
    await Promise.all(
      [...byRevocation].map(async ([revocationId, deviceIds]) => {
        const outcome = await this.runtime.deprovisionDevices({ deviceIds, reason: 'revoked', revocationId, commandId: `deprovision-${recorded.event.id}-${revocationId}` });
        failed += outcome.failed;
      }),
    );
    // Not acked while a target could not be reached: redelivered with backoff (what succeeded is recorded once).
    if (failed > 0) throw new DeprovisioningIncomplete(`${failed} device(s) could not be disabled on every target yet`);
    const devices = [...byRevocation.values()].reduce((n, ids) => n + ids.length, 0);
    const ms = (to: number, from: number) => Math.round(to - from);
    this.logger.info(
      { event: 'onboarding.crl_enforced', authorityId, crlNumber, enforcedCrlNumber: enforced, targets: targets.length, devicesDeprovisioned: devices, trustMs: ms(trustedAt, started), deprovisionMs: ms(performance.now(), trustedAt) },
      'new CRL enforced, revoked devices disabled',
    );
  }
}

export class DeprovisioningIncomplete extends Error {
  override readonly name = 'DeprovisioningIncomplete';
  readonly code = 'DEPROVISIONING_INCOMPLETE';
}
