/**
 * Revoking a device's certificates on its own subject (`ca.device.<deviceId>`), next to the
 * issuance that created them: the same state and `evolve` as issuance, another `decide`. A serial
 * revoked before is never revoked again, so a device already revoked adds no second CRL entry.
 *
 * The first revocation of a device records CertificationRevoked first, in the same append as the
 * revocation of every certificate issued up to it: from that append on, issuance refuses the device.
 */
import { parseTlsKeyId, type RevocationReason } from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';
import {
  deviceCertificatesDecider,
  type DeviceCertificateEvent,
  type DeviceCertificatesState,
  type IssuedCertificateData,
} from '../deciders/device-certificates.decider.js';

export type RevokeCertificatesCommand =
  | Command<'RevokeCertificates', { deviceId: string; revocationId: string; reason: RevocationReason }>
  /**
   * An ownership transfer: every certificate issued so far (the old owner's) revoked with reason
   * `affiliationChanged`, `revocationId` = the transfer id; the device is not revoked, so the new
   * owner's certificates are issued as before (no CertificationRevoked). Only certificates for keys
   * of earlier epochs than the transfer's: one redelivered after the new owner certified the device
   * leaves the new owner's certificates alone.
   */
  | Command<'RevokeTransferredCertificates', { deviceId: string; transferId: string; ownerEpoch: number }>;

/** Every certificate the device was issued, once each (a retried request keeps one certificate). */
export function issuedCertificates(state: DeviceCertificatesState): IssuedCertificateData[] {
  const bySerial = new Map<string, IssuedCertificateData>();
  for (const outcome of Object.values(state.requests))
    if (outcome.status === 'Issued') bySerial.set(outcome.certificate.serialNumber, outcome.certificate);
  return [...bySerial.values()];
}

export const revokeCertificatesDecider: Decider<
  RevokeCertificatesCommand,
  DeviceCertificateEvent,
  DeviceCertificatesState
> = {
  initialState: deviceCertificatesDecider.initialState,
  evolve: deviceCertificatesDecider.evolve,

  decide(command, state): NewEvent<DeviceCertificateEvent>[] {
    const revoked = new Set(state.revokedSerials);
    const revokeIssued = (revocationId: string, reason: RevocationReason, beforeEpoch = Infinity) =>
      issuedCertificates(state)
        .filter((certificate) => !revoked.has(certificate.serialNumber))
        .filter((certificate) => (parseTlsKeyId(certificate.keyId)?.epoch ?? 0) < beforeEpoch)
        .map(
          (certificate): NewEvent<DeviceCertificateEvent> => ({
            type: 'CertificateRevoked',
            version: 1,
            data: {
              deviceId: command.data.deviceId,
              authorityId: certificate.authorityId,
              serialNumber: certificate.serialNumber,
              reason,
              revokedAt: command.metadata.now,
              revocationId,
            },
          }),
        );
    switch (command.type) {
      case 'RevokeCertificates': {
        const { deviceId, revocationId, reason } = command.data;
        // removeFromCRL only undoes a hold in a delta CRL; it never revokes anything.
        if ((reason as string) === 'removeFromCRL')
          throw new CommandRejected('invalid-reason', 'removeFromCRL is not a revocation reason', { deviceId });
        const certification: NewEvent<DeviceCertificateEvent>[] =
          state.revokedBy === undefined
            ? [
                {
                  type: 'CertificationRevoked',
                  version: 1,
                  data: { deviceId, revocationId, reason, revokedAt: command.metadata.now },
                },
              ]
            : [];
        return [...certification, ...revokeIssued(revocationId, reason)];
      }
      case 'RevokeTransferredCertificates':
        return revokeIssued(command.data.transferId, 'affiliationChanged', command.data.ownerEpoch);
      default: {
        const unknown: never = command;
        throw new CommandRejected('unknown-command', `unknown command ${String((unknown as { type?: unknown }).type)}`);
      }
    }
  },
};
