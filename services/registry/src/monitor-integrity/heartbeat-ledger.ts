import { Injectable } from '@nestjs/common';
import type { LastHeartbeat } from './heartbeat-judge.js';

export interface LedgerEntry extends LastHeartbeat {
  /** When this replica received it, ms (silence is measured from here). */
  receivedAt: number;
  /** Its signed time as sent (the `heartbeatAt` of a silence that follows it). */
  sentAtIso: string;
}

/**
 * The last heartbeat accepted from each device, in memory. Heartbeats are not events (10,000
 * devices every 10 s would be 1,000 appends a second of nothing new): only what they reveal is.
 * After a restart a device's counter line starts again at its next heartbeat, and its silence is
 * measured from then; a replay older than the verifier's time window is refused whatever this holds.
 */
@Injectable()
export class HeartbeatLedger {
  readonly #entries = new Map<string, LedgerEntry>();

  last(deviceId: string): LedgerEntry | undefined {
    return this.#entries.get(deviceId);
  }

  accept(deviceId: string, entry: LedgerEntry): void {
    this.#entries.set(deviceId, entry);
  }

  forget(deviceId: string): void {
    this.#entries.delete(deviceId);
  }

  entries(): IterableIterator<[string, LedgerEntry]> {
    return this.#entries.entries();
  }

  get size(): number {
    return this.#entries.size;
  }
}
