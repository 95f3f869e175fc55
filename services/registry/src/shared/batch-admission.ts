import { Injectable } from '@nestjs/common';
import { admitToBatch } from '../deciders/batch.decider.js';
import { RegistryReadModel } from '../read-model/registry-read-model.js';
import { KeyedLock } from './concurrency.js';

/**
 * Places in a batch. The batch's members are devices (each its own aggregate), so no single
 * append can check capacity; instead admissions into one batch are serialised in this process
 * and each waits until the read model holds the previous one's devices. (Two registry replicas
 * importing into one batch at the same moment could still overshoot by the smaller import.)
 */
@Injectable()
export class BatchAdmission {
  readonly #lock = new KeyedLock();
  /** How long the last admission waited for the read model (a figure for logs). */
  lastCatchUpMs = 0;

  constructor(private readonly readModel: RegistryReadModel) {}

  /**
   * Decides which of `deviceIds` may join `batchId` (devices already in it always may), runs
   * `join` with that decision, then waits until the read model includes what `join` appended
   * (`join` returns the highest sequence it wrote, 0 for none).
   */
  admit<R>(batchId: string, expectedSize: number, deviceIds: readonly string[], join: (admitted: boolean[]) => Promise<{ result: R; lastSequence: number }>): Promise<R> {
    return this.#lock.run(batchId, async () => {
      const members = this.readModel.batchMemberCount(batchId);
      const admitted = admitToBatch(
        expectedSize,
        members,
        deviceIds.map((deviceId) => ({ alreadyMember: this.readModel.batchOf(deviceId) === batchId })),
      );
      const { result, lastSequence } = await join(admitted);
      const waitStarted = performance.now();
      if (lastSequence > 0) await this.readModel.caughtUpTo(lastSequence);
      this.lastCatchUpMs = Math.round(performance.now() - waitStarted);
      return result;
    });
  }
}
