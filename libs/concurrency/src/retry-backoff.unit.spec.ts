import { RetryBackoff } from './retry-backoff.js';

describe('RetryBackoff', () => {
  let now: number;
  const backoff = () =>
    new RetryBackoff({ now: () => now, firstRetryMs: 1_000, maxRetryMs: 4_000, stuckAfterFailures: 3 });
  beforeEach(() => (now = 1_000_000));

  it('a failed key waits 1 s, then twice as long after each failure in a row, up to the maximum; stuck once, at the third', () => {
    const b = backoff();
    expect(b.due('d-1')).toBe(true);
    const seen = [];
    for (let i = 0; i < 5; i++) {
      const failure = b.failed('d-1');
      seen.push(failure);
      expect(b.due('d-1')).toBe(false);
      now += failure.retryInMs - 1;
      expect(b.due('d-1')).toBe(false);
      now += 1;
      expect(b.due('d-1')).toBe(true);
    }
    expect(seen).toEqual([
      { failures: 1, retryInMs: 1_000, stuck: false },
      { failures: 2, retryInMs: 2_000, stuck: false },
      { failures: 3, retryInMs: 4_000, stuck: true },
      { failures: 4, retryInMs: 4_000, stuck: false },
      { failures: 5, retryInMs: 4_000, stuck: false },
    ]);
  });

  it('a success forgets the failures; other keys are not affected', () => {
    const b = backoff();
    b.failed('d-1');
    b.failed('d-1');
    expect(b.due('d-2')).toBe(true);
    b.succeeded('d-1');
    expect(b.due('d-1')).toBe(true);
    expect(b.failed('d-1')).toEqual({ failures: 1, retryInMs: 1_000, stuck: false });
  });

  it('keys that failed together all wait as long as the one that failed most often', () => {
    const b = backoff();
    b.failed('d-1');
    expect(b.failed('d-1', 'd-2')).toEqual({ failures: 2, retryInMs: 2_000, stuck: false });
    now += 1_999;
    expect([b.due('d-1'), b.due('d-2')]).toEqual([false, false]);
    now += 1;
    expect([b.due('d-1'), b.due('d-2')]).toEqual([true, true]);
  });
});
