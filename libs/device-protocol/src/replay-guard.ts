/**
 * Replay protection for one direction of the device protocol: a message is accepted only when its
 * counter is greater than the last accepted one for that device, and its time is within the
 * window. The window bounds what a guard that lost its memory (a restart) could let through.
 */
export interface ReplayGuardOptions {
  /** Accepted clock skew either way, ms (default 5 min). */
  windowMs?: number;
}

export type ReplayVerdict = 'fresh' | 'replayed' | 'stale';

export class ReplayGuard {
  private readonly lastCounter = new Map<string, number>();
  private readonly windowMs: number;

  constructor(options: ReplayGuardOptions = {}) {
    this.windowMs = options.windowMs ?? 5 * 60_000;
  }

  /** Pure check; call `accept` once the message is otherwise valid. */
  judge(deviceId: string, counter: number, sentAt: string, now: Date): ReplayVerdict {
    const sent = Date.parse(sentAt);
    if (!Number.isFinite(sent) || Math.abs(now.getTime() - sent) > this.windowMs) return 'stale';
    return counter > (this.lastCounter.get(deviceId) ?? -1) ? 'fresh' : 'replayed';
  }

  accept(deviceId: string, counter: number): void {
    if (counter > (this.lastCounter.get(deviceId) ?? -1)) this.lastCounter.set(deviceId, counter);
  }

  /** Restores a high-water mark (e.g. rebuilt from the event log or a device's flash). */
  restore(deviceId: string, counter: number): void {
    this.accept(deviceId, counter);
  }
}
