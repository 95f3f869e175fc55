/**
 * Onboarding's part of a revocation (issue 6), in two passes.
 *
 * On the RevocationRequested itself (cutOffRequested), ahead of the CA: the requested devices'
 * target certificates go on their targets' CRLs (one reload per target for every request handled
 * together), then their live sessions are dropped and DeviceDeprovisioned recorded. The target CRL
 * lists target certificates, which onboarding issued itself: it needs nothing from the CA, so a
 * revoked device is cut off without waiting for its platform certificate's revocation and the CA's CRL.
 *
 * On the CA's CrlPublished (handle): first every target makes
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
import { CLOCK, ONBOARDING_LOGGER, type Clock } from '../tokens.js';
import { CertificatesView } from '../views/certificates.view.js';
import { TargetsView } from '../views/targets.view.js';

/** A RevocationRequested: the devices to cut off under its id. */
export interface RequestedRevocation {
  revocationId: string;
  deviceIds: readonly string[];
}

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
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {}

  /** Devices among `deviceIds` still onboarded to a target: what cutOffRequested would cut. */
  async stillOnboarded(deviceIds: readonly string[]): Promise<string[]> {
    await this.targets.catchUp();
    return deviceIds.filter((deviceId) => this.targets.activeTargets(deviceId).length > 0);
  }

  /**
   * Cuts the devices of these requests off every target they are onboarded to: all of them listed
   * on each target's CRL first (one reload), then each request's devices dropped and recorded under
   * its revocation. Idempotent (command ids derive from the revocation); throws
   * DeprovisioningIncompleteError while a target could not be reached.
   */
  async cutOffRequested(requests: readonly RequestedRevocation[]): Promise<number> {
    const started = performance.now();
    await this.targets.catchUp();
    const byTarget = new Map<string, string[]>();
    const pending = requests
      .map(({ revocationId, deviceIds }) => ({
        revocationId,
        deviceIds: deviceIds.filter((deviceId) => {
          const targetIds = this.targets.activeTargets(deviceId);
          for (const targetId of targetIds) byTarget.set(targetId, [...(byTarget.get(targetId) ?? []), deviceId]);
          return targetIds.length > 0;
        }),
      }))
      .filter((request) => request.deviceIds.length > 0);
    if (pending.length === 0) return 0;
    const metadata = { commandId: `revoked-${pending[0]!.revocationId}`, now: this.clock().toISOString() };
    // Every device of every request on the CRLs at once: the drops below then find nothing to reload.
    // A target that cannot take it now is left to the drops, which fail for it (and are retried).
    await Promise.all(
      [...byTarget].map(([targetId, deviceIds]) =>
        this.trust.ensureTrust(targetId, metadata, { cut: deviceIds }).catch(() => undefined),
      ),
    );
    const listed = performance.now();
    let failed = 0;
    await Promise.all(
      pending.map(async ({ revocationId, deviceIds }) => {
        const commandId = `revoked-${revocationId}`;
        const outcome = await this.deprovisioning.handle({ deviceIds, reason: 'revoked', revocationId, commandId });
        failed += outcome.failed;
      }),
    );
    const devices = pending.reduce((n, request) => n + request.deviceIds.length, 0);
    const ms = (to: number, from: number) => Math.round(to - from);
    this.logger.info(
      {
        event: 'onboarding.revocation_cut_off',
        revocations: pending.length,
        devices,
        failed,
        listMs: ms(listed, started),
        cutMs: ms(performance.now(), listed),
      },
      'requested revocations cut off ahead of the CA',
    );
    if (failed > 0)
      throw new DeprovisioningIncompleteError(`${failed} device(s) could not be cut off every target yet`, {
        revocationId: requests[0]!.revocationId,
      });
    return devices;
  }

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
