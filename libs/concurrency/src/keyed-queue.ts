/**
 * Runs tasks one after another per key (a device's records stay in order; two imports into one
 * batch cannot both take its last places), at most `limit` keys at once overall.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(private readonly limit = Number.POSITIVE_INFINITY) {}

  /** Runs `task` after every task queued before it under `key`; a failed task does not stop the ones after it. */
  run<R>(key: string, task: () => Promise<R>): Promise<R> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.#slot(task));
    const tail = next.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }

  /** Resolves when every queued task has finished. */
  async idle(): Promise<void> {
    while (this.#tails.size) await Promise.all([...this.#tails.values()]);
  }

  async #slot<R>(task: () => Promise<R>): Promise<R> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}
