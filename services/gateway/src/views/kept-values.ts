/**
 * Values derived from the read models, kept until a commit that touches what they were derived
 * from drops them (the owner: `ReadModels.onCommitted`). A value derived while a drop came in is
 * not kept: it may predate that commit. Bounded: past `max` values it starts again.
 */
export class KeptValues<V> {
  readonly #values = new Map<string, V>();
  /** Raised at every drop. */
  #generation = 0;

  /** `keeps` false (a bare store, nobody to drop them): every value is derived afresh. */
  constructor(
    private readonly keeps: boolean,
    private readonly max = 200_000,
  ) {}

  /** The kept value, if any (no promise: the usual case of a hot path). */
  peek(key: string): V | undefined {
    return this.#values.get(key);
  }

  /** The kept value, else `derive`'s (kept unless undefined or a drop came in meanwhile). */
  async get(key: string, derive: () => Promise<V | undefined>): Promise<V | undefined> {
    const found = this.#values.get(key);
    if (found !== undefined) return found;
    const generation = this.#generation;
    const derived = await derive();
    if (derived !== undefined && this.keeps && generation === this.#generation) {
      if (this.#values.size >= this.max) this.#values.clear();
      this.#values.set(key, derived);
    }
    return derived;
  }

  drop(key: string): void {
    this.#values.delete(key);
    this.#generation++;
  }

  clear(): void {
    this.#values.clear();
    this.#generation++;
  }
}
