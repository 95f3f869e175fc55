/**
 * Ownership transfer -> CA: every certificate the device had under its old owner is revoked
 * (CertificateRevoked, reason affiliationChanged, revocationId = the transfer id) and each authority
 * that gained an entry publishes a new CRL, which onboarding installs on the targets (the old
 * owner's broker then refuses those certificates at the TLS handshake). The device itself stays
 * certifiable: the new owner certifies keys of its new epoch. Every write's command id derives from
 * the transfer and the device, so a redelivery completes what is missing and repeats nothing.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { DataOf, OwnershipTransferCompleted } from '@tunnelkey/contracts';
import { derivedCommandId, handleCommand, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { caActor } from '../authority/certificate-authority.js';
import { deviceCertificatesStream } from '../deciders/device-certificates.decider.js';
import { PublishCrlHandler } from '../publish-crl/publish-crl.handler.js';
import { revokeCertificatesDecider } from '../revoke-certificates/revoke-certificates.decider.js';
import { CA_LOGGER, CLOCK, type Clock } from '../tokens.js';
import { RevokedCertificatesView } from '../views/revoked-certificates.view.js';

export type TransferredDevice = Pick<
  DataOf<typeof OwnershipTransferCompleted>,
  'deviceId' | 'transferId' | 'ownerEpoch'
>;

@Injectable()
export class RevokeTransferredCertificatesHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly crls: PublishCrlHandler,
    private readonly revoked: RevokedCertificatesView,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
  ) {}

  /** Revokes the device's earlier owners' certificates and publishes the CRLs listing them; returns how many. */
  async apply(transfer: TransferredDevice, correlationId?: string): Promise<number> {
    const { deviceId, transferId, ownerEpoch } = transfer;
    const metadata = (...parts: string[]) => ({
      commandId: derivedCommandId(transferId, deviceId, ...parts),
      correlationId: correlationId ?? transferId,
      now: this.clock().toISOString(),
      actor: caActor,
    });
    const result = await handleCommand({
      store: this.store,
      decider: revokeCertificatesDecider,
      stream: deviceCertificatesStream(deviceId),
      command: {
        type: 'RevokeTransferredCertificates',
        data: { deviceId, transferId, ownerEpoch },
        metadata: metadata('revoke'),
      },
      logger: this.logger,
      maxRetries: 10,
    });
    // Earlier events of this command (a redelivery) count too: their CRL may not be published yet.
    const authorities = new Set<string>();
    let revoked = 0;
    for (const event of result.events) {
      if (event.type !== 'CertificateRevoked') continue;
      this.revoked.noteRevoked(event.data);
      authorities.add(event.data.authorityId);
      revoked++;
    }
    for (const authorityId of [...authorities].sort())
      await this.crls.publish(authorityId, metadata('crl', authorityId));
    this.logger.info(
      {
        event: 'ca.transferred_certificates_revoked',
        deviceId,
        transferId,
        ownerEpoch,
        revoked,
        crls: authorities.size,
      },
      "old owner's certificates revoked",
    );
    return revoked;
  }
}
