/**
 * Bounds how many async tasks run at once (crypto for thousands of devices would otherwise pile
 * up on the thread pool and in memory), and how many may wait: beyond that, work is refused so
 * a message flood cannot grow the queue without bound.
 */
export class ConcurrencyLimiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  #idle: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(
    readonly limit: number,
    readonly maxWaiting = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` when a slot is free. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#active++;
        let result: Promise<T>;
        try {
          result = task();
        } catch (error) {
          result = Promise.reject(error);
        }
        result.then(resolve, reject).finally(() => this.#release());
      };
      if (this.#active < this.limit) start();
      else this.#waiting.push(start);
    });
  }

  /** Queues `task` like `run`, but resolves as soon as it has a slot and has started; its outcome stays its own. */
  start(task: () => Promise<unknown>): Promise<void> {
    return new Promise<void>((started) => {
      void this.run(() => {
        started();
        return task();
      }).catch(() => undefined);
    });
  }

  /** Like `run`, but returns undefined instead of queueing past `maxWaiting`. */
  tryRun<T>(task: () => Promise<T>): Promise<T> | undefined {
    if (this.#active >= this.limit && this.#waiting.length >= this.maxWaiting) return undefined;
    return this.run(task);
  }

  /** Resolves once nothing runs or waits. */
  idle(): Promise<void> {
    if (this.#active === 0 && this.#waiting.length === 0) return Promise.resolve();
    if (!this.#idle) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#idle = { promise, resolve };
    }
    return this.#idle.promise;
  }

  #release(): void {
    this.#active--;
    const next = this.#waiting.shift();
    if (next) next();
    else if (this.#active === 0 && this.#idle) {
      this.#idle.resolve();
      this.#idle = undefined;
    }
  }
}
