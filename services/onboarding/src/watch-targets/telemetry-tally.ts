/**
 * Turns a stream of telemetry messages into few events: the first message of a device on a target
 * at once, then one periodic report per device and window with the counts (never one per message).
 */
import type { DataOf, TelemetryReceived } from '@tunnelkey/contracts';

export type TelemetryReport = DataOf<typeof TelemetryReceived>;

interface Tally {
  messagesTotal: number;
  bytesTotal: number;
  firstMessageAt?: string;
  messagesInWindow: number;
  windowStart?: string;
  lastMessageAt?: string;
  lastTopic?: string;
}

export class TelemetryTally {
  readonly #tallies = new Map<string, Tally>();

  /** `seed` returns the totals already in the log, so counts continue across restarts. */
  constructor(
    private readonly seed: (
      deviceId: string,
      targetId: string,
    ) => { messagesTotal: number; bytesTotal: number; firstMessageAt: string } | undefined,
  ) {}

  /** Counts one message; returns the `first` report when it is the device's first on this target. */
  record(targetId: string, deviceId: string, topic: string, bytes: number, at: Date): TelemetryReport | undefined {
    const key = `${targetId}\u0000${deviceId}`;
    let tally = this.#tallies.get(key);
    if (!tally) {
      const known = this.seed(deviceId, targetId);
      tally = known
        ? {
            messagesTotal: known.messagesTotal,
            bytesTotal: known.bytesTotal,
            firstMessageAt: known.firstMessageAt,
            messagesInWindow: 0,
          }
        : { messagesTotal: 0, bytesTotal: 0, messagesInWindow: 0 };
      this.#tallies.set(key, tally);
    }
    const iso = at.toISOString();
    tally.messagesTotal += 1;
    tally.bytesTotal += bytes;
    tally.lastMessageAt = iso;
    tally.lastTopic = topic;
    if (tally.firstMessageAt === undefined) {
      tally.firstMessageAt = iso;
      return {
        deviceId,
        targetId,
        kind: 'first',
        messagesTotal: tally.messagesTotal,
        bytesTotal: tally.bytesTotal,
        messagesInWindow: 1,
        windowStart: iso,
        firstMessageAt: iso,
        lastMessageAt: iso,
        lastTopic: topic,
      };
    }
    tally.windowStart ??= iso;
    tally.messagesInWindow += 1;
    return undefined;
  }

  /** Periodic reports for every device with messages since the last flush; opens new windows. */
  flush(): TelemetryReport[] {
    const reports: TelemetryReport[] = [];
    for (const [key, tally] of this.#tallies) {
      if (
        tally.messagesInWindow === 0 ||
        !tally.windowStart ||
        !tally.lastMessageAt ||
        !tally.lastTopic ||
        !tally.firstMessageAt
      )
        continue;
      const [targetId, deviceId] = key.split('\u0000') as [string, string];
      reports.push({
        deviceId,
        targetId,
        kind: 'periodic',
        messagesTotal: tally.messagesTotal,
        bytesTotal: tally.bytesTotal,
        messagesInWindow: tally.messagesInWindow,
        windowStart: tally.windowStart,
        firstMessageAt: tally.firstMessageAt,
        lastMessageAt: tally.lastMessageAt,
        lastTopic: tally.lastTopic,
      });
      tally.messagesInWindow = 0;
      tally.windowStart = undefined;
    }
    return reports;
  }
}
