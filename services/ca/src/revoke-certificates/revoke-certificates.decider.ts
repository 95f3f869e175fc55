/**
 * Revoking a device's certificates on its own subject (`ca.device.<deviceId>`), next to the
 * issuance that created them: the same state and `evolve` as issuance, another `decide`. A serial
 * revoked before is never revoked again, so a device already revoked adds no second CRL entry.
 *
 * The first revocation of a device records CertificationRevoked first, in the same append as the
 * revocation of every certificate issued up to it: from that append on, issuance refuses the device.
 */
import type { RevocationReason } from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';
import {
  deviceCertificatesDecider,
  type DeviceCertificateEvent,
  type DeviceCertificatesState,
  type IssuedCertificateData,
} from '../deciders/device-certificates.decider.js';

export type RevokeCertificatesCommand = Command<
  'RevokeCertificates',
  { deviceId: string; revocationId: string; reason: RevocationReason }
>;

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
    switch (command.type) {
      case 'RevokeCertificates': {
        const { deviceId, revocationId, reason } = command.data;
        // removeFromCRL only undoes a hold in a delta CRL; it never revokes anything.
        if ((reason as string) === 'removeFromCRL')
          throw new CommandRejected('invalid-reason', 'removeFromCRL is not a revocation reason', { deviceId });
        const revoked = new Set(state.revokedSerials);
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
        const certificates = issuedCertificates(state)
          .filter((certificate) => !revoked.has(certificate.serialNumber))
          .map(
            (certificate): NewEvent<DeviceCertificateEvent> => ({
              type: 'CertificateRevoked',
              version: 1,
              data: {
                deviceId,
                authorityId: certificate.authorityId,
                serialNumber: certificate.serialNumber,
                reason,
                revokedAt: command.metadata.now,
                revocationId,
              },
            }),
          );
        return [...certification, ...certificates];
      }
      default: {
        const unknown: never = command.type;
        throw new CommandRejected('unknown-command', `unknown command ${String(unknown)}`);
      }
    }
  },
};
