/**
 * Ownership transfer -> the old owner's certificates revoked, until none is left: the devices the
 * transfer-revocations view lists as owed are handed to RevokeTransferredCertificatesHandler, at
 * once when the view sees one come to owe (a transfer, or a certificate of an older epoch recorded
 * after it), and again at every sweep while the view still lists it. Never given up: a device
 * whose revocation fails (key store or bus away) is tried again with a growing wait (up to 30 s),
 * logged at warn each time and at error once it has failed `stuckAfterFailures` times in a row.
 *
 * Fail-closed across restarts and replicas without a durable: the view is rebuilt from both logs,
 * so a device still owed after a crash is listed again; every CA instance works on the list, and
 * each write's command id derives from the transfer and the device, so a second instance (or a
 * second pass) completes what is missing and repeats nothing.
 */
import { Inject, Injectable } from '@nestjs/common';
import { describeError } from '@tunnelkey/eventstore';
import { ViewDrivenJob } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { AUTHORITIES_READY, CA_LOGGER, CLOCK, type Clock } from '../tokens.js';
import { TransferRevocationsView, type DeviceTransfer } from '../views/transfer-revocations.view.js';
import { RevokeTransferredCertificatesHandler } from './revoke-transferred-certificates.handler.js';

@Injectable()
export class TransferRevocationsJob extends ViewDrivenJob {
  constructor(
    private readonly view: TransferRevocationsView,
    private readonly handler: RevokeTransferredCertificatesHandler,
    @Inject(CLOCK) clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
    // Not used: orders the start after the authorities and their first CRLs exist.
    @Inject(AUTHORITIES_READY) _authoritiesReady: unknown,
  ) {
    super(() => clock().getTime());
  }

  protected listen(): () => void {
    return this.view.onOwed(() => this.wake());
  }

  /** Revokes what every owed device still holds (those waiting out a failure excepted). */
  protected async work(): Promise<void> {
    for (const transfer of this.view.owed()) {
      if (this.stopped) return;
      if (this.backoff.due(transfer.deviceId)) await this.#revoke(transfer);
    }
  }

  async #revoke(transfer: DeviceTransfer): Promise<void> {
    const { deviceId, transferId, ownerEpoch, correlationId } = transfer;
    try {
      await this.handler.apply({ deviceId, transferId, ownerEpoch }, correlationId);
      // Done: its CertificateRevoked events take it off the view's list (a pass meanwhile repeats nothing).
      this.backoff.succeeded(deviceId);
    } catch (error) {
      const { failures, retryInMs, stuck } = this.backoff.failed(deviceId);
      const logged = {
        event: stuck ? 'ca.transfer_revocation_stuck' : 'ca.transfer_revocation_retry',
        deviceId,
        transferId,
        failures,
        retryInMs,
        error: describeError(error),
      };
      if (stuck) this.logger.error(logged, "old owner's certificates still not revoked; retrying");
      else this.logger.warn(logged, "old owner's certificates not revoked yet; will retry");
    }
  }
}
