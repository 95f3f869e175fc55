/**
 * Checkpoints of in-memory views: a view's state with the last sequence it folded from each source,
 * stored so a restart loads the newest one and replays only what follows it. The store keeps opaque
 * bytes under a key; what the bytes mean (format, the view's own version) is `encodeViewCheckpoint`'s.
 */
import type { BoundedContext } from '@tunnelkey/contracts';

/** Where view checkpoints live (same server and namespace as the store's events): opaque bytes per key. */
export interface ViewCheckpointStore {
  load(key: string): Promise<Uint8Array | undefined>;
  save(key: string, data: Uint8Array): Promise<void>;
}

/** How a LiveView checkpoints itself. */
export interface ViewCheckpointPolicy<S = unknown> {
  /** The context of the service that owns the view (its checkpoint key lives under it: `<owner>.view.<name>`). */
  owner: BoundedContext;
  /**
   * Identifies the state's shape and `evolve`: bump it when either changes, and a checkpoint taken
   * under another version is ignored (the view is rebuilt from the log), never misread.
   */
  version: number;
  /** Saves once this many events were folded in since the last save (live). Default 10,000. */
  everyEvents?: number;
  /**
   * And no sooner than this after the previous save started (a large view costs a serialisation
   * per save). Default 60 s. The save after a rebuild and the one at stop do not wait for it.
   */
  minIntervalMs?: number;
  /**
   * For a state that is not plain data, Maps and Sets (a class, private fields): what to store
   * (plain data, Maps, Sets) and how to make the state again from it. Both or neither.
   */
  toCheckpoint?: (state: S) => unknown;
  fromCheckpoint?: (stored: unknown) => S;
}

/** Checkpoint key of a view: `<owner>.view.<name>` (names are subject-safe, so KV-safe too). */
export const viewCheckpointKey = (owner: BoundedContext, name: string): string => `${owner}.view.${name}`;

/** The layout of the encoded checkpoint itself (envelope, Map/Set tags); bumped when it changes. */
export const viewCheckpointFormat = 1;

export interface DecodedViewCheckpoint<S> {
  state: S;
  /** The last sequence folded in, per source key (`sourceKey`). */
  positions: Record<string, number>;
}

const mapTag = '__tk_map';
const setTag = '__tk_set';

/** JSON of plain data, Maps and Sets; refuses anything else (a class instance, bytes) rather than lose it. */
function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol')
      throw new TypeError(`a view checkpoint cannot hold a ${typeof value}`);
    return value;
  }
  if (value instanceof Map) return { [mapTag]: [...value.entries()] };
  if (value instanceof Set) return { [setTag]: [...value.values()] };
  if (Array.isArray(value)) return value;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null)
    throw new TypeError(`a view checkpoint cannot hold a ${(value as object).constructor?.name ?? 'non-plain object'}`);
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === mapTag)
      return new Map((value as Record<string, [unknown, unknown][]>)[mapTag]);
    if (keys.length === 1 && keys[0] === setTag) return new Set((value as Record<string, unknown[]>)[setTag]);
  }
  return value;
}

/** Encodes a state (plain data, Maps, Sets) with its positions, the format and the view's version. */
export function encodeViewCheckpoint<S>(version: number, checkpoint: DecodedViewCheckpoint<S>): Uint8Array {
  const envelope = { format: viewCheckpointFormat, version, positions: checkpoint.positions, state: checkpoint.state };
  return Buffer.from(JSON.stringify(envelope, replacer));
}

/**
 * The checkpoint, or the reason it cannot be used (another format or version, unreadable): the
 * caller then rebuilds from the log.
 */
export function decodeViewCheckpoint<S>(
  version: number,
  data: Uint8Array,
): { checkpoint: DecodedViewCheckpoint<S> } | { ignored: string } {
  let envelope: { format?: unknown; version?: unknown; positions?: unknown; state?: unknown };
  try {
    // Checked before the state is revived: an incompatible checkpoint is not parsed as a state.
    const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 64)).toString('utf8');
    const match = /^\{"format":(\d+),"version":(\d+),/.exec(head);
    if (!match) return { ignored: 'unrecognised checkpoint' };
    if (Number(match[1]) !== viewCheckpointFormat) return { ignored: `checkpoint format ${match[1]}` };
    if (Number(match[2]) !== version) return { ignored: `checkpoint version ${match[2]}, view version ${version}` };
    envelope = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'), reviver);
  } catch {
    return { ignored: 'unreadable checkpoint' };
  }
  const { positions, state } = envelope;
  if (
    typeof positions !== 'object' ||
    positions === null ||
    Object.values(positions).some((p) => !Number.isSafeInteger(p) || (p as number) < 0) ||
    state === undefined
  )
    return { ignored: 'malformed checkpoint' };
  return { checkpoint: { state: state as S, positions: positions as Record<string, number> } };
}

export class InMemoryViewCheckpointStore implements ViewCheckpointStore {
  readonly #checkpoints = new Map<string, Uint8Array>();

  async load(key: string): Promise<Uint8Array | undefined> {
    return this.#checkpoints.get(key);
  }

  async save(key: string, data: Uint8Array): Promise<void> {
    this.#checkpoints.set(key, Uint8Array.from(data));
  }
}
