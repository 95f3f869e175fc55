/**
 * Where the CA keeps the CRLs it signed, named by authority and SHA-256. Content-addressed, so two
 * instances racing on one CRL number can never overwrite the bytes the winning CrlPublished names.
 * The event carries only the URL and digest: a CRL grows by ~40 bytes per revoked certificate and
 * every version would stay in the replayed log forever (and the public event has no field for the bytes).
 */
export interface CrlStore {
  put(authorityId: string, digest: string, der: Uint8Array): Promise<void>;
  get(authorityId: string, digest: string): Promise<Uint8Array | undefined>;
}

export const crlObjectName = (authorityId: string, digest: string) => `${authorityId}/${digest}.crl`;

/** For unit tests and the embedded mode. */
export class InMemoryCrlStore implements CrlStore {
  readonly #crls = new Map<string, Uint8Array>();
  async put(authorityId: string, digest: string, der: Uint8Array): Promise<void> {
    this.#crls.set(crlObjectName(authorityId, digest), der.slice());
  }
  async get(authorityId: string, digest: string): Promise<Uint8Array | undefined> {
    return this.#crls.get(crlObjectName(authorityId, digest));
  }
}

/**
 * Keeps each authority's latest CRL in memory in front of another store: the distribution point
 * serves the CRL this instance just published without reading it back.
 */
export class LatestCrlCache implements CrlStore {
  readonly #latest = new Map<string, { digest: string; der: Uint8Array }>();

  constructor(private readonly store: CrlStore) {}

  async put(authorityId: string, digest: string, der: Uint8Array): Promise<void> {
    await this.store.put(authorityId, digest, der);
    this.#latest.set(authorityId, { digest, der });
  }

  async get(authorityId: string, digest: string): Promise<Uint8Array | undefined> {
    const latest = this.#latest.get(authorityId);
    if (latest?.digest === digest) return latest.der;
    const der = await this.store.get(authorityId, digest);
    if (der) this.#latest.set(authorityId, { digest, der });
    return der;
  }
}
