/**
 * Runs `work` over `items` with at most `limit` in flight, results in input order. Bulk commands
 * (10,000 devices) append per device concurrently but bounded, so one call cannot swamp the bus.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= items.length) return;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

/** A counting semaphore: bounds work started from callbacks (e.g. device messages arriving). */
export class Semaphore {
  #available: number;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#available = Math.max(1, limit);
  }

  async run<R>(work: () => Promise<R>): Promise<R> {
    if (this.#available > 0) this.#available--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      const wake = this.#waiting.shift();
      if (wake) wake();
      else this.#available++;
    }
  }
}

/**
 * Serialises work per key inside this process, e.g. per batch, so two imports into one batch
 * cannot both take its last free places.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  async run<R>(key: string, work: () => Promise<R>): Promise<R> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(work);
    this.#tails.set(key, current);
    try {
      return await current;
    } finally {
      if (this.#tails.get(key) === current) this.#tails.delete(key);
    }
  }
}
