import { Injectable } from '@nestjs/common';
import type { LastHeartbeat } from './heartbeat-judge.js';

export interface LedgerEntry extends LastHeartbeat {
  /** When this replica received it, ms (silence is measured from here). */
  receivedAt: number;
  /** Its signed time as sent (the `heartbeatAt` of a silence that follows it). */
  sentAtIso: string;
  /** When this replica accepted the device's first heartbeat, ms. */
  since: number;
  /** Signed send times of the remembered nonces, same order. */
  nonceTimes: readonly number[];
}

/** The verifier's replay window: heartbeats older than this are refused as stale before the judge. */
export const replayWindowMs = 5 * 60_000;

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

  /** Records an accepted heartbeat; the nonces sent within the replay window before it are kept. */
  accept(
    deviceId: string,
    heartbeat: { counter: number; sentAt: number; sentAtIso: string; nonce: string },
    now: number,
  ): void {
    const before = this.#entries.get(deviceId);
    const since = before?.since ?? now;
    const kept = (before?.nonceTimes ?? []).map((sentAt, i) => ({ sentAt, nonce: before!.nonces[i]! }));
    const recent = [...kept, { sentAt: heartbeat.sentAt, nonce: heartbeat.nonce }].filter(
      (h) => h.sentAt >= heartbeat.sentAt - replayWindowMs,
    );
    this.#entries.set(deviceId, {
      counter: heartbeat.counter,
      sentAt: heartbeat.sentAt,
      sentAtIso: heartbeat.sentAtIso,
      receivedAt: now,
      since,
      nonces: recent.map((h) => h.nonce),
      nonceTimes: recent.map((h) => h.sentAt),
      rememberedForWindow: now - since > replayWindowMs,
    });
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
