import type { BoundedContext } from '@tunnelkey/contracts';
import type { ProjectionWrite } from './projection.js';

export type Document = Record<string, unknown>;

export interface AppliedChange {
  projection: string;
  writes: readonly ProjectionWrite[];
}

/**
 * The embedded read store (default): documents in memory, rebuilt from the log at start. Each
 * projection's checkpoint per context is updated in the same synchronous step as its writes, so
 * a reader never sees data without its checkpoint or the reverse.
 */
export class MemoryReadStore {
  readonly #collections = new Map<string, Map<string, Document>>();
  readonly #checkpoints = new Map<string, number>();
  readonly #listeners = new Set<(change: AppliedChange) => void>();

  collection(name: string): Map<string, Document> {
    let collection = this.#collections.get(name);
    if (!collection) this.#collections.set(name, (collection = new Map()));
    return collection;
  }

  get<T>(collection: string, id: string): T | undefined {
    return this.#collections.get(collection)?.get(id) as T | undefined;
  }

  checkpoint(projection: string, context: BoundedContext): number {
    return this.#checkpoints.get(`${projection}/${context}`) ?? 0;
  }

  /** Applies the writes of one event and moves the checkpoint; false when the sequence was already applied. */
  apply(projection: string, context: BoundedContext, sequence: number, writes: readonly ProjectionWrite[]): boolean {
    const key = `${projection}/${context}`;
    if (sequence <= (this.#checkpoints.get(key) ?? 0)) return false;
    for (const write of writes) applyWrite(this.collection(write.collection), write);
    this.#checkpoints.set(key, sequence);
    if (writes.length > 0) for (const listener of this.#listeners) listener({ projection, writes });
    return true;
  }

  onChange(listener: (change: AppliedChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

function applyWrite(collection: Map<string, Document>, write: ProjectionWrite): void {
  const doc = collection.get(write.id) ?? {};
  for (const [path, value] of Object.entries(write.set ?? {})) setPath(doc, path, value);
  for (const [path, delta] of Object.entries(write.inc ?? {})) {
    const current = getPath(doc, path);
    setPath(doc, path, (typeof current === 'number' ? current : 0) + delta);
  }
  collection.set(write.id, doc);
}

function getPath(doc: Document, path: string): unknown {
  let node: unknown = doc;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Document)[key];
  }
  return node;
}

function setPath(doc: Document, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = doc;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Document;
  }
  node[keys[keys.length - 1]!] = value;
}
