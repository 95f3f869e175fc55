/**
 * Where CA private keys live at rest: KEK-wrapped blobs (see @tunnelkey/pki wrapCaPrivateKey), keyed
 * by authority id. The store never sees a plaintext key. `create` is first-writer-wins so two CA
 * instances bootstrapping at once agree on one key per authority.
 */
export interface CaKeyStore {
  /** The wrapped key, or undefined when none is stored (never created, or exported offline). */
  get(authorityId: string): Promise<Uint8Array | undefined>;
  /** Stores the blob unless one exists; false (and nothing written) when another writer was first. */
  create(authorityId: string, wrapped: Uint8Array): Promise<boolean>;
  /** Puts a blob back (re-import of an offline key); overwrites. */
  put(authorityId: string, wrapped: Uint8Array): Promise<void>;
  /** Removes the blob (the key goes offline). */
  remove(authorityId: string): Promise<void>;
}

/** For unit tests and the embedded demo: keys die with the process. */
export class InMemoryCaKeyStore implements CaKeyStore {
  readonly #keys = new Map<string, Uint8Array>();

  async get(authorityId: string): Promise<Uint8Array | undefined> {
    return this.#keys.get(authorityId)?.slice();
  }

  async create(authorityId: string, wrapped: Uint8Array): Promise<boolean> {
    if (this.#keys.has(authorityId)) return false;
    this.#keys.set(authorityId, wrapped.slice());
    return true;
  }

  async put(authorityId: string, wrapped: Uint8Array): Promise<void> {
    this.#keys.set(authorityId, wrapped.slice());
  }

  async remove(authorityId: string): Promise<void> {
    this.#keys.delete(authorityId);
  }

  /** Raw view for tests that look for key material where it must not be. */
  entries(): IterableIterator<[string, Uint8Array]> {
    return this.#keys.entries();
  }
}
