/**
 * A token bucket per message source (a device id), in bounded memory: each source may send `burst`
 * messages at once and `ratePerMinute` more per minute after that. When `maxSources` are tracked,
 * the source seen longest ago is forgotten (it starts again with a full bucket).
 */
export interface SourceRateLimits {
  ratePerMinute: number;
  burst: number;
  maxSources: number;
}

export class SourceRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #perMs: number;

  constructor(private readonly limits: SourceRateLimits) {
    this.#perMs = limits.ratePerMinute / 60_000;
  }

  /** Takes a token for `source` at `nowMs`: false when its bucket is empty (the message is dropped). */
  take(source: string, nowMs: number): boolean {
    const bucket = this.#buckets.get(source);
    let tokens = this.limits.burst;
    if (bucket) {
      tokens = Math.min(this.limits.burst, bucket.tokens + Math.max(0, nowMs - bucket.at) * this.#perMs);
      this.#buckets.delete(source); // re-inserted below: the map's order is the order sources were last seen
    } else {
      while (this.#buckets.size >= this.limits.maxSources) {
        this.#buckets.delete(this.#buckets.keys().next().value as string);
      }
    }
    const allowed = tokens >= 1;
    this.#buckets.set(source, { tokens: allowed ? tokens - 1 : tokens, at: nowMs });
    return allowed;
  }

  /** Sources tracked now (at most `maxSources`). */
  get size(): number {
    return this.#buckets.size;
  }
}
