/**
 * Ownership transfer -> the device cut off every target of its old owner, until none is left: the
 * devices the transfer-deprovisionings view lists as owed are handed to DeprovisionDevicesHandler
 * (reason `ownership-transferred`; the new owner's onboardings, of the transfer's batch, are left
 * alone), at once when the view sees one come to owe, and again at every sweep (1 s) while it is
 * listed; the devices of one transfer together (one CRL update per target). Never given up: a
 * device a target could not cut yet (target away or refusing) is tried again with a growing wait
 * (up to 30 s), logged at warn each time and at error once it has failed `stuckAfterFailures`
 * times in a row.
 *
 * Fail-closed across restarts and replicas without a durable: the view is rebuilt from both logs,
 * so a device still owed after a crash is listed again; every onboarding instance works on the
 * list, and each record's id derives from the transfer, the device and the target, so a
 * second instance (or a second pass) completes what is missing and repeats nothing.
 */
import { Inject, Injectable } from '@nestjs/common';
import { describeError } from '@tunnelkey/eventstore';
import { ViewDrivenJob } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { CLOCK, ONBOARDING_LOGGER, type Clock } from '../tokens.js';
import { TransferDeprovisioningsView, type DeviceTransfer } from '../views/transfer-deprovisionings.view.js';
import { DeprovisionDevicesHandler } from './deprovision-devices.handler.js';

@Injectable()
export class TransferDeprovisioningsJob extends ViewDrivenJob {
  constructor(
    private readonly view: TransferDeprovisioningsView,
    private readonly deprovisioning: DeprovisionDevicesHandler,
    @Inject(CLOCK) clock: Clock,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {
    super(() => clock().getTime());
  }

  protected listen(): () => void {
    return this.view.onOwed(() => this.wake());
  }

  /** Cuts every owed device off its old owner's targets (those waiting out a failure excepted). */
  protected async work(): Promise<void> {
    // The devices of one transfer go together: one CRL update per target, not one per device.
    const groups = new Map<string, { transfer: DeviceTransfer; deviceIds: string[] }>();
    for (const transfer of this.view.owed()) {
      if (!this.backoff.due(transfer.deviceId)) continue;
      const key = `${transfer.transferId} ${transfer.batchId}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { transfer, deviceIds: [] }));
      group.deviceIds.push(transfer.deviceId);
    }
    for (const { transfer, deviceIds } of groups.values()) {
      if (this.stopped) return;
      await this.#deprovision(transfer, deviceIds);
    }
  }

  async #deprovision(transfer: DeviceTransfer, deviceIds: string[]): Promise<void> {
    const { transferId, batchId } = transfer;
    let failed: number;
    let error: unknown;
    try {
      ({ failed } = await this.deprovisioning.handle({
        deviceIds,
        reason: 'ownership-transferred',
        // Each record's id derives from it, the device and the target: a second pass records nothing twice.
        commandId: `transfer-${transferId}`,
        keepBatchId: batchId,
      }));
    } catch (thrown) {
      failed = deviceIds.length;
      error = thrown;
    }
    if (failed === 0) {
      // Done: their DeviceDeprovisioned events take them off the view's list (a pass meanwhile repeats nothing).
      this.backoff.succeeded(...deviceIds);
      return;
    }
    const { failures, retryInMs, stuck } = this.backoff.failed(...deviceIds);
    const logged = {
      event: stuck ? 'onboarding.transfer_deprovisioning_stuck' : 'onboarding.transfer_deprovisioning_retry',
      transferId,
      devices: deviceIds.length,
      failures,
      retryInMs,
      ...(error === undefined ? { pairsFailed: failed } : { error: describeError(error) }),
    };
    if (stuck) this.logger.error(logged, 'transferred devices still not cut off every old target; retrying');
    else this.logger.warn(logged, 'transferred devices not cut off every old target yet; will retry');
  }
}
