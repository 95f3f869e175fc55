import { SourceRateLimiter } from './source-rate-limiter.js';

describe('SourceRateLimiter', () => {
  it('lets a source send its burst, then refills at the rate', () => {
    const limiter = new SourceRateLimiter({ ratePerMinute: 60, burst: 3, maxSources: 10 });
    expect([1, 2, 3, 4].map(() => limiter.take('d-a', 0))).toEqual([true, true, true, false]);
    expect(limiter.take('d-b', 0)).toBe(true); // sources do not share a bucket
    expect(limiter.take('d-a', 500)).toBe(false);
    expect(limiter.take('d-a', 1_000)).toBe(true);
    expect(limiter.take('d-a', 1_000)).toBe(false);
    expect([1, 2, 3, 4].map(() => limiter.take('d-a', 3_600_000))).toEqual([true, true, true, false]);
  });

  it('tracks at most maxSources, forgetting the one seen longest ago', () => {
    const limiter = new SourceRateLimiter({ ratePerMinute: 1, burst: 1, maxSources: 100 });
    for (let i = 0; i < 10_000; i++) limiter.take(`d-${i}`, 0);
    expect(limiter.size).toBe(100);
    expect(limiter.take('d-9999', 0)).toBe(false);
    expect(limiter.take('d-0', 0)).toBe(true);
  });
});
