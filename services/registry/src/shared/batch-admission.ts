import { Injectable } from '@nestjs/common';
import { KeyedQueue } from '@tunnelkey/concurrency';
import { admitToBatch } from '../deciders/batch.decider.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';

/**
 * Places in a batch. The batch's members are devices (each its own aggregate), so no single
 * append can check capacity; instead admissions into one batch are serialised in this process
 * and each waits until the device view holds the previous one's devices. (Two registry replicas
 * importing into one batch at the same moment could still overshoot by the smaller import.)
 */
@Injectable()
export class BatchAdmission {
  readonly #queue = new KeyedQueue();

  constructor(private readonly devices: DeviceByIdView) {}

  /** Whether the device is already a member of the batch (as the device view holds it). */
  isMember(batchId: string, deviceId: string): boolean {
    return this.devices.batchMembers(batchId).has(deviceId);
  }

  /**
   * Decides which of `deviceIds` may join `batchId` (devices already in it always may), runs
   * `join` with that decision, then waits until the view includes what `join` appended (`wrote`).
   * Returns `join`'s result and how long that wait took (a figure for logs).
   */
  admit<R>(
    batchId: string,
    expectedSize: number,
    deviceIds: readonly string[],
    join: (admitted: boolean[]) => Promise<{ result: R; wrote: boolean }>,
  ): Promise<{ result: R; catchUpMs: number }> {
    return this.#queue.run(batchId, async () => {
      const members = this.devices.batchMembers(batchId);
      const candidates = deviceIds.map((deviceId) => ({ alreadyMember: members.has(deviceId) }));
      const { result, wrote } = await join(admitToBatch(expectedSize, members.size, candidates));
      const waitStarted = performance.now();
      if (wrote) await this.devices.catchUp();
      return { result, catchUpMs: Math.round(performance.now() - waitStarted) };
    });
  }
}
