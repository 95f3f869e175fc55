/**
 * Onboarding's part of a certificate renewal (issue 17), on the CA's DeviceCertificateRenewed: on
 * every target the device is onboarded to, a new target certificate for its new key (the renewed
 * platform certificate, verified up to the pinned root first), recorded (DeviceOnboarded, same
 * client id, prefix and rights), then sent in its connection parameters. The previous target
 * certificate stays valid (off the target CRL, see InstallTrustHandler) until the device reports
 * that it switched (CertificateRenewalCompleted): the CRL the CA publishes then makes every target
 * list it (PublishedCrlsReaction). Command ids derive from the CA event's id: a redelivered event
 * records nothing twice; a device whose target certificate is for the new key already is only sent
 * its parameters again.
 */
import { Inject, Injectable } from '@nestjs/common';
import { ConnectionParametersMessage, type DataOf, type DeviceOnboarded } from '@tunnelkey/contracts';
import { derivedMetadata } from '@tunnelkey/eventstore';
import { parseCertificate, spkiEqual } from '@tunnelkey/pki';
import type { Logger } from 'pino';
import { TargetUnreachableError } from '../errors.js';
import { InstallTrustHandler } from '../install-trust/install-trust.handler.js';
import { connectionParametersOf } from '../onboard-devices/connection-parameters.js';
import { DeviceWriter } from '../shared/device-writer.js';
import { TargetAuthorities } from '../target-authority/target-authority.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import {
  CLOCK,
  DOWNLINKS,
  ONBOARDING_LOGGER,
  SERVER_CA_PEM,
  type Clock,
  type DownlinkSender,
  type ServerCaPem,
} from '../tokens.js';
import { BatchPlanView } from '../views/batch-plan.view.js';
import { CertificatesView } from '../views/certificates.view.js';
import { isRevoked } from '../views/revoked.js';
import { TargetsView } from '../views/targets.view.js';

/** A DeviceCertificateRenewed of the CA: its event id names the steps taken for it. */
export interface RenewedCertificate {
  eventId: string;
  correlationId: string;
  deviceId: string;
  /** The renewed platform certificate. */
  serialNumber: string;
}

export interface TargetCertificatesRenewed {
  /** Targets the device got a new target certificate for. */
  issued: string[];
  /** Targets whose certificate was for the new key already (a redelivery): parameters sent again. */
  resent: string[];
  /** Why nothing was done, if so. */
  skipped?: 'device-revoked' | 'superseded' | 'not-onboarded' | 'key-refused';
}

@Injectable()
export class RenewTargetCertificatesHandler {
  constructor(
    private readonly certificates: CertificatesView,
    private readonly targets: TargetsView,
    private readonly plans: BatchPlanView,
    private readonly connected: ConnectedTargets,
    private readonly trust: InstallTrustHandler,
    private readonly authorities: TargetAuthorities,
    private readonly devices: DeviceWriter,
    @Inject(DOWNLINKS) private readonly downlinks: DownlinkSender,
    @Inject(SERVER_CA_PEM) private readonly serverCaPem: ServerCaPem,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {}

  /** Throws TargetUnreachableError while a target is not connected (the reaction tries again). */
  async handle(renewed: RenewedCertificate): Promise<TargetCertificatesRenewed> {
    const { deviceId } = renewed;
    // The views catch up only when they have not seen the renewed certificate yet: a batch's renewals
    // arrive one after the other, and waiting for the whole log before each one costs more than the work.
    if (this.certificates.device(deviceId)?.certificate?.serialNumber !== renewed.serialNumber)
      await Promise.all([this.certificates.catchUp(), this.targets.catchUp(), this.plans.catchUp()]);
    const outcome: TargetCertificatesRenewed = { issued: [], resent: [] };
    if (isRevoked(this.certificates, this.plans, deviceId)) return { ...outcome, skipped: 'device-revoked' };
    // A later certificate came since (another renewal): that renewal's event brings it.
    if (this.certificates.device(deviceId)?.certificate?.serialNumber !== renewed.serialNumber)
      return { ...outcome, skipped: 'superseded' };
    const targetIds = this.targets.activeTargets(deviceId);
    if (targetIds.length === 0) return { ...outcome, skipped: 'not-onboarded' };
    const key = await this.trust.verifiedDeviceKey(deviceId);
    if (!key.ok) {
      this.logger.error(
        { event: 'onboarding.renewal_key_refused', deviceId, reason: key.reason, detail: key.detail },
        'a renewed certificate does not verify: no target certificate is issued for it',
      );
      return { ...outcome, skipped: 'key-refused' };
    }
    const metadata = {
      commandId: `renewed-${renewed.eventId}`,
      correlationId: renewed.correlationId,
      now: this.clock().toISOString(),
    };
    for (const targetId of targetIds) {
      const target = this.connected.get(targetId);
      if (!target) throw new TargetUnreachableError(`target ${targetId} is not connected`, { targetId });
      const current = this.targets.onboarding(deviceId, targetId)!;
      let data: DataOf<typeof DeviceOnboarded> = current;
      if (
        current.certificate &&
        spkiEqual(parseCertificate(current.certificate.certificatePem).spki, key.publicKeySpki)
      ) {
        outcome.resent.push(targetId);
      } else {
        const certificate = await (await this.authorities.for(targetId)).issue({ deviceId, ...key });
        data = { ...current, certificate };
        const step = derivedMetadata(metadata, 'renew', deviceId, targetId);
        await this.devices.record(deviceId, { type: 'RecordOnboarded', data, metadata: step });
        this.targets.noteOnboarded(data, this.clock());
        outcome.issued.push(targetId);
      }
      const { clientId, roleName, topicPrefix } = data;
      const parameters = connectionParametersOf(
        target,
        { deviceId, clientId, roleName, topicPrefix },
        data.certificate!.certificatePem,
        this.serverCaPem(targetId),
      );
      await this.downlinks.send(ConnectionParametersMessage, deviceId, parameters);
    }
    this.logger.info(
      {
        event: 'onboarding.target_certificates_renewed',
        deviceId,
        issued: outcome.issued.length,
        resent: outcome.resent.length,
      },
      'renewed device sent its new target certificates',
    );
    return outcome;
  }
}
