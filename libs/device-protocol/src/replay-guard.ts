/**
 * Replay protection for one direction of the device protocol: a message is accepted only when its
 * counter is greater than the last accepted one for that device, and its time is within the
 * window. The window bounds what a guard that lost its memory (a restart, an evicted entry) could
 * let through; `floor` narrows it further with a high-water mark kept elsewhere (e.g. the event log).
 */
export interface ReplayGuardOptions {
  /** Accepted clock skew either way, ms (default 5 min). */
  windowMs?: number;
  /**
   * Most devices remembered (default: no bound). When full, the device accepted longest ago is
   * forgotten: its messages are then judged by `floor` and the window only.
   */
  maxDevices?: number;
  /** A counter every message of the device must exceed, known outside this guard (e.g. rebuilt from the log). */
  floor?: (deviceId: string) => number | undefined;
}

export type ReplayVerdict = 'fresh' | 'replayed' | 'stale';

export class ReplayGuard {
  private readonly lastCounter = new Map<string, number>();
  private readonly windowMs: number;
  private readonly maxDevices: number;
  private readonly floor: ((deviceId: string) => number | undefined) | undefined;

  constructor(options: ReplayGuardOptions = {}) {
    this.windowMs = options.windowMs ?? 5 * 60_000;
    this.maxDevices = options.maxDevices ?? Number.POSITIVE_INFINITY;
    this.floor = options.floor;
  }

  /** How many devices the guard remembers now (at most `maxDevices`). */
  get size(): number {
    return this.lastCounter.size;
  }

  /** Pure check; call `accept` once the message is otherwise valid. */
  judge(deviceId: string, counter: number, sentAt: string, now: Date): ReplayVerdict {
    const sent = Date.parse(sentAt);
    if (!Number.isFinite(sent) || Math.abs(now.getTime() - sent) > this.windowMs) return 'stale';
    const last = Math.max(this.lastCounter.get(deviceId) ?? -1, this.floor?.(deviceId) ?? -1);
    return counter > last ? 'fresh' : 'replayed';
  }

  accept(deviceId: string, counter: number): void {
    const last = this.lastCounter.get(deviceId);
    if (last !== undefined && counter <= last) return;
    // Re-inserted, so the map's order is the order of the last acceptance: the oldest goes first.
    this.lastCounter.delete(deviceId);
    while (this.lastCounter.size >= this.maxDevices) {
      const oldest = this.lastCounter.keys().next().value as string;
      this.lastCounter.delete(oldest);
    }
    this.lastCounter.set(deviceId, counter);
  }

  /** Restores a high-water mark (e.g. rebuilt from the event log or a device's flash). */
  restore(deviceId: string, counter: number): void {
    this.accept(deviceId, counter);
  }
}
