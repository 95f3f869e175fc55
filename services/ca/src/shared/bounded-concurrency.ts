/**
 * At most `limit` tasks at once; `run` waits for a free slot. Keeps a burst of 10,000 CSRs from
 * turning into 10,000 concurrent signatures (memory, and latency for all of them).
 */
export class BoundedConcurrency {
  #active = 0;
  readonly #waiting: Array<() => void> = [];
  readonly #idle = new Set<() => void>();

  constructor(readonly limit: number) {}

  get active(): number {
    return this.#active;
  }

  /** Resolves once a slot is free; the task then runs in the background. */
  async submit(task: () => Promise<void>): Promise<void> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active++;
    void task().finally(() => this.#release());
  }

  /** Waits for a slot, runs the task, returns its result. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      void this.submit(() => task().then(resolve, reject));
    });
  }

  /** Resolves when nothing runs. */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  #release(): void {
    this.#active--;
    const next = this.#waiting.shift();
    if (next) next();
    else if (this.#active === 0) {
      for (const resolve of this.#idle) resolve();
      this.#idle.clear();
    }
  }
}
