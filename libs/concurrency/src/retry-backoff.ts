/**
 * The failures of a job that works through a list until it is done, per key (a device): a key
 * whose attempt failed waits out a growing delay before its next (first 1 s, doubling up to 30 s by
 * default; never given up), and is `stuck` when it has just failed `stuckAfterFailures` times in a
 * row (the one time to log at error rather than warn).
 */
export interface RetryBackoffOptions {
  /** Now, in ms since the epoch. */
  now: () => number;
  firstRetryMs?: number;
  maxRetryMs?: number;
  stuckAfterFailures?: number;
}

export interface Failure {
  /** Failures in a row, this one included. */
  failures: number;
  retryInMs: number;
  stuck: boolean;
}

export class RetryBackoff {
  readonly #attempts = new Map<string, { failures: number; notBefore: number }>();
  readonly #firstRetryMs: number;
  readonly #maxRetryMs: number;
  readonly #stuckAfterFailures: number;

  constructor(private readonly options: RetryBackoffOptions) {
    this.#firstRetryMs = options.firstRetryMs ?? 1_000;
    this.#maxRetryMs = options.maxRetryMs ?? 30_000;
    this.#stuckAfterFailures = options.stuckAfterFailures ?? 5;
  }

  /** False while `key` waits out its last failure. */
  due(key: string): boolean {
    const attempt = this.#attempts.get(key);
    return attempt === undefined || attempt.notBefore <= this.options.now();
  }

  /** `keys` were done: their failures are forgotten. */
  succeeded(...keys: string[]): void {
    for (const key of keys) this.#attempts.delete(key);
  }

  /** One attempt at `keys` together failed: each waits as long as the one that failed most often. */
  failed(...keys: string[]): Failure {
    const failures = Math.max(0, ...keys.map((key) => this.#attempts.get(key)?.failures ?? 0)) + 1;
    const retryInMs = Math.min(this.#maxRetryMs, this.#firstRetryMs * 2 ** (failures - 1));
    const notBefore = this.options.now() + retryInMs;
    for (const key of keys) this.#attempts.set(key, { failures, notBefore });
    return { failures, retryInMs, stuck: failures === this.#stuckAfterFailures };
  }
}
