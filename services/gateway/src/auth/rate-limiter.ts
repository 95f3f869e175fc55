/** What a request costs against its caller's bucket: allowed, or the seconds until it would be. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiterOptions {
  /** Requests per second, sustained. */
  ratePerSecond: number;
  /** Requests at once after a quiet spell; default twice the rate. */
  burst?: number;
  /** Callers remembered at most (least recently seen forgotten first); default 10,000. */
  maxKeys?: number;
  clock?: () => number;
}

/** A token bucket per key (API token id, or client address), in bounded memory. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #clock: () => number;

  constructor(options: RateLimiterOptions) {
    this.#rate = options.ratePerSecond;
    this.#burst = options.burst ?? options.ratePerSecond * 2;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.#buckets.size;
  }

  take(key: string): RateDecision {
    const now = this.#clock();
    const known = this.#buckets.get(key);
    const tokens = known ? Math.min(this.#burst, known.tokens + ((now - known.at) / 1000) * this.#rate) : this.#burst;
    // Re-inserted: the map's order is least recently seen first.
    this.#buckets.delete(key);
    if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    if (tokens >= 1) {
      this.#buckets.set(key, { tokens: tokens - 1, at: now });
      return { allowed: true };
    }
    this.#buckets.set(key, { tokens, at: now });
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.#rate)) };
  }
}

/** The gateway's two limits: per API token, and per client address for requests without a valid one. */
export interface RateLimits {
  perToken: RateLimiter;
  anonymous: RateLimiter;
}

export function rateLimits(config: { rateLimit: number; anonymousRateLimit: number }): RateLimits {
  return {
    perToken: new RateLimiter({ ratePerSecond: config.rateLimit }),
    anonymous: new RateLimiter({ ratePerSecond: config.anonymousRateLimit }),
  };
}
