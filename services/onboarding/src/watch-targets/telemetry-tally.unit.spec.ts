import { TelemetryTally } from './telemetry-tally.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

describe('TelemetryTally', () => {
  test('reports the first message at once, then one periodic report per window', () => {
    const tally = new TelemetryTally(() => undefined);
    expect(tally.record('t', 'd', 'devices/d/telemetry', 10, at(1))).toMatchObject({
      kind: 'first',
      messagesTotal: 1,
      bytesTotal: 10,
    });
    for (let i = 2; i <= 5; i++) expect(tally.record('t', 'd', 'devices/d/telemetry', 10, at(i))).toBeUndefined();
    expect(tally.flush()).toEqual([
      expect.objectContaining({
        kind: 'periodic',
        messagesTotal: 5,
        bytesTotal: 50,
        messagesInWindow: 4,
        windowStart: at(2).toISOString(),
        lastMessageAt: at(5).toISOString(),
      }),
    ]);
    expect(tally.flush()).toEqual([]);
  });

  test('continues the totals in the log after a restart and reports no second first', () => {
    const tally = new TelemetryTally(() => ({
      messagesTotal: 100,
      bytesTotal: 1000,
      firstMessageAt: at(0).toISOString(),
    }));
    expect(tally.record('t', 'd', 'devices/d/telemetry', 10, at(9))).toBeUndefined();
    expect(tally.flush()).toEqual([
      expect.objectContaining({ messagesTotal: 101, bytesTotal: 1010, messagesInWindow: 1 }),
    ]);
  });
});
