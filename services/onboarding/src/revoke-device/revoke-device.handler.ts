/**
 * Onboarding's part of a revocation (issue 6), on the CA's CrlPublished: first every target makes
 * its own CA's CRL list the target certificates of every device revoked so far and reloads (new
 * handshakes with them fail), recording that it enforces that CA CRL; then the devices that CA CRL
 * revoked are cut off on every target they are onboarded to (their live sessions dropped). In that
 * order, so a dropped device cannot reconnect in between. The revocation saga waits for the events
 * recorded here (TargetCrlUpdated, DeviceDeprovisioned).
 *
 * Command ids derive from the CA event's id: a redelivered event records nothing twice.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { DeprovisionDevicesHandler } from '../deprovision-devices/deprovision-devices.handler.js';
import { DeprovisioningIncompleteError } from '../errors.js';
import { InstallTrustHandler } from '../install-trust/install-trust.handler.js';
import { ONBOARDING_LOGGER } from '../tokens.js';
import { CertificatesView } from '../views/certificates.view.js';
import { TargetsView } from '../views/targets.view.js';

/** A CrlPublished of the CA: its event id names the steps taken for it. */
export interface PublishedCrl {
  eventId: string;
  authorityId: string;
  crlNumber: number;
}

export interface CrlEnforced {
  targets: string[];
  /** The CA CRL number whose revocations every one of those targets enforces now. */
  enforcedCrlNumber: number;
  devicesDeprovisioned: number;
}

@Injectable()
export class RevokeDeviceHandler {
  constructor(
    private readonly trust: InstallTrustHandler,
    private readonly deprovisioning: DeprovisionDevicesHandler,
    private readonly certificates: CertificatesView,
    private readonly targets: TargetsView,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {}

  /** Throws DeprovisioningIncompleteError while a target could not be reached (what succeeded is recorded once). */
  async handle(crl: PublishedCrl): Promise<CrlEnforced> {
    const { authorityId, crlNumber } = crl;
    const started = performance.now();
    // refreshTrust first catches the views up with the log: every revocation known now goes on the
    // targets' CRLs, so a burst of revocations costs one reload, and the CrlPublished events behind
    // it only record that the installed CRL covers them.
    const targetIds = await this.trust.refreshTrust({ authorityId, crlNumber, commandId: `crl-${crl.eventId}` });
    const trustedAt = performance.now();
    // Only devices this CA CRL (or an earlier one) lists: their target certificates are on every
    // target's CRL now, so a dropped device cannot reconnect.
    const enforced = crlNumber;
    const byRevocation = new Map<string, string[]>();
    for (const device of this.certificates.revokedOnCrl(authorityId, enforced)) {
      if (this.targets.activeTargets(device.deviceId).length === 0) continue;
      byRevocation.set(device.revocationId, [...(byRevocation.get(device.revocationId) ?? []), device.deviceId]);
    }
    let failed = 0;
    await Promise.all(
      [...byRevocation].map(async ([revocationId, deviceIds]) => {
        const commandId = `deprovision-${crl.eventId}-${revocationId}`;
        const outcome = await this.deprovisioning.handle({ deviceIds, reason: 'revoked', revocationId, commandId });
        failed += outcome.failed;
      }),
    );
    if (failed > 0)
      throw new DeprovisioningIncompleteError(`${failed} device(s) could not be disabled on every target yet`, {
        authorityId,
      });
    const devices = [...byRevocation.values()].reduce((n, ids) => n + ids.length, 0);
    const ms = (to: number, from: number) => Math.round(to - from);
    const timing = { trustMs: ms(trustedAt, started), deprovisionMs: ms(performance.now(), trustedAt) };
    this.logger.info(
      {
        event: 'onboarding.crl_enforced',
        authorityId,
        crlNumber,
        enforcedCrlNumber: enforced,
        targets: targetIds.length,
        devicesDeprovisioned: devices,
        ...timing,
      },
      'new CRL enforced, revoked devices cut off',
    );
    return { targets: targetIds, enforcedCrlNumber: enforced, devicesDeprovisioned: devices };
  }
}
