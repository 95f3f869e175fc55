/**
 * The CA hierarchy: one root and an issuing CA per owner, created idempotently on first use.
 * Keys are generated here, sealed under the KEK at once and kept only in the key store; events
 * carry the public certificates. Two instances bootstrapping together agree through the key
 * store (first key wins) and the event store (first certificate wins).
 */
import { createHash } from 'node:crypto';
import {
  buildIssuingCaCertificate,
  buildRootCaCertificate,
  generateWrappedCaKey,
  loadIssuer,
  parseCertificate,
  spkiEqual,
  summarizeCertificate,
  unwrapCaSigner,
  verifySignature,
  type CertificateIssuer,
  type IssuedCertificate,
  type Kek,
  type ParsedCertificate,
  type Signer,
} from '@tunnelkey/pki';
import { handleCommand, load, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import { AuthorityUnavailableError, CaCommandRejected } from '../errors.js';
import {
  authorityDecider,
  authorityStream,
  type AuthorityCommand,
  type AuthorityData,
  type AuthorityState,
} from '../deciders/authority.decider.js';
import type { CaKeyStore } from '../ca-key-store-port/ca-key-store.js';

export const ROOT_AUTHORITY_ID = 'root';

export interface HierarchySettings {
  crlBaseUrl: string;
  rootLifetimeDays: number;
  issuingLifetimeDays: number;
  organization: string;
}

/** An authority as the CA uses it: its certificate, chain, and (when its key is online) an issuer that can sign. */
export interface LoadedAuthority {
  readonly authorityId: string;
  readonly role: 'root' | 'issuing';
  readonly ownerId?: string;
  readonly certificate: ParsedCertificate;
  readonly certificatePem: string;
  readonly fingerprintSha256: string;
  /** This authority first, up to the root. */
  readonly chainPem: readonly string[];
  /** Where the CRL of what this authority signs is served. */
  readonly crlUrl: string;
  /** Undefined when the key is offline (the root, once exported). */
  readonly issuer?: CertificateIssuer;
}

export interface CertificateAuthorityDeps {
  store: EventStore;
  keys: CaKeyStore;
  kek: Kek;
  settings: HierarchySettings;
  clock?: () => Date;
  logger: Logger;
}

const day = 86_400_000;
// CA certificates are backdated so that devices with slightly slow clocks accept them at once.
const caBackdateMs = 3_600_000;

/** Authority ids are subject tokens: `root`, `issuing-<ownerId>` (hashed when the owner id is long). */
export const issuingAuthorityId = (ownerId: string): string => {
  const id = `issuing-${ownerId}`;
  return id.length <= 128 ? id : `issuing-h${createHash('sha256').update(ownerId).digest('hex').slice(0, 40)}`;
};

/** The CA id bound into a wrapped key's AAD (pki allows [A-Za-z0-9._:-]; aggregate ids may hold `_`, never `.`). */
const keyBindingId = (authorityId: string) => authorityId.replace(/_/g, '.');

/** Who the CA's own writes name as their actor. */
export const caActor = { kind: 'service' as const, id: 'ca' };

const truncate = (text: string, max: number) => (text.length <= max ? text : text.slice(0, max));

export class CertificateAuthority {
  readonly #deps: CertificateAuthorityDeps;
  readonly #clock: () => Date;
  #root: Promise<LoadedAuthority> | undefined;
  readonly #issuing = new Map<string, Promise<LoadedAuthority>>();

  constructor(deps: CertificateAuthorityDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? (() => new Date());
  }

  /** The root, created on first call. */
  root(): Promise<LoadedAuthority> {
    this.#root ??= this.#singleFlight(
      () => this.#loadOrCreateRoot(),
      () => (this.#root = undefined),
    );
    return this.#root;
  }

  /** The owner's issuing CA, created under the root on first call. Concurrent callers share one creation. */
  issuingFor(ownerId: string): Promise<LoadedAuthority> {
    let loaded = this.#issuing.get(ownerId);
    if (!loaded) {
      loaded = this.#singleFlight(
        () => this.#loadOrCreateIssuing(ownerId),
        () => this.#issuing.delete(ownerId),
      );
      this.#issuing.set(ownerId, loaded);
    }
    return loaded;
  }

  /**
   * Takes the root key offline: returns its wrapped (still KEK-encrypted) blob for safekeeping,
   * records the export, and removes the key from the online store. Issuing CAs keep working;
   * creating a new one needs the key back (importRootKey).
   */
  async exportRootKey(commandId: string): Promise<{ wrappedKey: Uint8Array; exportDigest: string }> {
    const root = await this.root();
    if (this.#issuing.size === 0) {
      throw new CaCommandRejected('no-issuing-authority', 'create an issuing CA before taking the root key offline');
    }
    const wrappedKey = await this.#deps.keys.get(ROOT_AUTHORITY_ID);
    if (!wrappedKey) throw new CaCommandRejected('key-already-offline', 'the root key is not in the online key store');
    const exportDigest = createHash('sha256').update(wrappedKey).digest('hex');
    const metadata = metadataOf({ commandId, actor: caActor }, this.#clock());
    await this.#handle(root.authorityId, {
      type: 'ExportAuthorityKey',
      data: { authorityId: root.authorityId, exportDigest },
      metadata,
    });
    await this.#deps.keys.remove(ROOT_AUTHORITY_ID);
    this.#root = undefined;
    this.#deps.logger.info(
      { event: 'ca.root_key_exported', authorityId: root.authorityId, exportDigest },
      'root key taken offline',
    );
    return { wrappedKey, exportDigest };
  }

  /** Brings an exported root key back online (e.g. to create a new owner's issuing CA). */
  async importRootKey(wrappedKey: Uint8Array): Promise<void> {
    const root = await this.root();
    const signer = await unwrapCaSigner({
      wrapped: wrappedKey,
      kek: this.#deps.kek,
      caId: keyBindingId(ROOT_AUTHORITY_ID),
    });
    if (!spkiEqual(signer.publicKeySpki, root.certificate.spki)) {
      throw new CaCommandRejected('key-mismatch', 'the imported key is not the root certificate key');
    }
    await this.#deps.keys.put(ROOT_AUTHORITY_ID, wrappedKey);
    this.#root = undefined;
  }

  async #loadOrCreateRoot(): Promise<LoadedAuthority> {
    const { crlBaseUrl, organization, rootLifetimeDays } = this.#deps.settings;
    const authorityId = ROOT_AUTHORITY_ID;
    const authority = await this.#loadOrCreate(authorityId, async (signer) => {
      const now = this.#clock().getTime();
      const certificate = await buildRootCaCertificate({
        subject: { commonName: truncate(`${organization} Root CA`, 64), organization },
        signer,
        notBefore: new Date(now - caBackdateMs),
        notAfter: new Date(now + rootLifetimeDays * day),
      });
      return authorityData(authorityId, 'root', certificate);
    });
    return this.#assemble(authority.data, authority.signer, [], `${crlBaseUrl}/${authorityId}.crl`);
  }

  async #loadOrCreateIssuing(ownerId: string): Promise<LoadedAuthority> {
    const { crlBaseUrl, organization, issuingLifetimeDays } = this.#deps.settings;
    const authorityId = issuingAuthorityId(ownerId);
    const crlUrl = `${crlBaseUrl}/${authorityId}.crl`;
    const root = await this.root();
    const authority = await this.#loadOrCreate(authorityId, async (signer) => {
      if (!root.issuer) {
        throw new AuthorityUnavailableError('the root key is offline: import it to create a new issuing CA', {
          ownerId,
        });
      }
      const now = this.#clock().getTime();
      const certificate = await buildIssuingCaCertificate({
        subject: {
          commonName: truncate(`${organization} Issuing CA ${ownerId}`, 64),
          organization,
          organizationalUnit: truncate(ownerId, 64),
        },
        publicKeySpki: signer.publicKeySpki,
        issuer: root.issuer,
        notBefore: new Date(Math.max(now - caBackdateMs, root.certificate.notBefore.getTime())),
        notAfter: new Date(Math.min(now + issuingLifetimeDays * day, root.certificate.notAfter.getTime())),
      });
      return {
        ...authorityData(authorityId, 'issuing', certificate),
        ownerId,
        parentAuthorityId: root.authorityId,
        crlUrl,
      };
    });
    const issuing = this.#assemble(authority.data, authority.signer, root.chainPem, crlUrl);
    // Checked once here, so that issuance only needs to check each leaf against this CA's key.
    const { certificate } = issuing;
    const chained = await verifySignature({
      spki: root.certificate.spki,
      algorithmOid: certificate.signatureAlgorithmOid,
      data: certificate.tbsDer,
      signature: certificate.signature,
    });
    if (!chained)
      throw new AuthorityUnavailableError('the issuing CA certificate is not signed by the root', { authorityId });
    return issuing;
  }

  /**
   * Loads the authority from its stream, or creates it: first a key (first writer in the key store
   * wins), then its certificate (first append wins). Returns the recorded data and, if the key is
   * online, a signer for it.
   */
  async #loadOrCreate(
    authorityId: string,
    buildCertificate: (signer: Signer) => Promise<AuthorityData>,
  ): Promise<{ data: AuthorityData; signer?: Signer }> {
    let state = await this.#state(authorityId);
    if (state.status === 'Absent') {
      const signer = await this.#createOrAdoptKey(authorityId);
      const data = await buildCertificate(signer);
      const metadata = metadataOf({ commandId: `create-authority-${authorityId}`, actor: caActor }, this.#clock());
      await this.#handle(authorityId, { type: 'CreateAuthority', data, metadata });
      // Re-read rather than trust our own decision: another instance may have been first.
      state = await this.#state(authorityId);
      if (state.status === 'Absent') throw new AuthorityUnavailableError('authority was not recorded', { authorityId });
      this.#deps.logger.info(
        {
          event: 'ca.authority_ready',
          authorityId,
          role: state.authority.role,
          serialNumber: state.authority.serialNumber,
        },
        'authority ready',
      );
    }
    const wrapped = await this.#deps.keys.get(authorityId);
    const signer = wrapped
      ? await unwrapCaSigner({ wrapped, kek: this.#deps.kek, caId: keyBindingId(authorityId) })
      : undefined;
    return { data: state.authority, ...(signer ? { signer } : {}) };
  }

  async #createOrAdoptKey(authorityId: string): Promise<Signer> {
    const caId = keyBindingId(authorityId);
    const existing = await this.#deps.keys.get(authorityId);
    if (existing) return unwrapCaSigner({ wrapped: existing, kek: this.#deps.kek, caId });
    const fresh = await generateWrappedCaKey({ kek: this.#deps.kek, caId });
    if (await this.#deps.keys.create(authorityId, fresh.wrapped)) return fresh.signer;
    const winner = await this.#deps.keys.get(authorityId);
    if (!winner) throw new AuthorityUnavailableError('CA key vanished while being created', { authorityId });
    return unwrapCaSigner({ wrapped: winner, kek: this.#deps.kek, caId });
  }

  #assemble(
    data: AuthorityData,
    signer: Signer | undefined,
    parentChain: readonly string[],
    crlUrl: string,
  ): LoadedAuthority {
    const certificate = parseCertificate(data.certificatePem);
    let issuer: CertificateIssuer | undefined;
    if (signer) {
      try {
        issuer = loadIssuer({ certificate, signer });
      } catch (error) {
        throw new AuthorityUnavailableError(
          'the stored key does not match the authority certificate',
          { authorityId: data.authorityId },
          { cause: error },
        );
      }
    }
    return {
      authorityId: data.authorityId,
      role: data.role,
      ...(data.ownerId ? { ownerId: data.ownerId } : {}),
      certificate,
      certificatePem: data.certificatePem,
      fingerprintSha256: data.fingerprintSha256,
      chainPem: [data.certificatePem, ...parentChain],
      crlUrl,
      ...(issuer ? { issuer } : {}),
    };
  }

  async #state(authorityId: string): Promise<AuthorityState> {
    return (await load(this.#deps.store, authorityDecider, authorityStream(authorityId))).state;
  }

  #handle(authorityId: string, command: AuthorityCommand) {
    return handleCommand({
      store: this.#deps.store,
      decider: authorityDecider,
      stream: authorityStream(authorityId),
      command,
      logger: this.#deps.logger,
    });
  }

  /** Caches the promise; a failure is not cached, so the next caller tries again. */
  #singleFlight<T>(run: () => Promise<T>, forget: () => void): Promise<T> {
    const promise = run();
    promise.catch(() => forget());
    return promise;
  }
}

function authorityData(authorityId: string, role: 'root' | 'issuing', certificate: IssuedCertificate): AuthorityData {
  const summary = summarizeCertificate(certificate.der);
  return {
    authorityId,
    role,
    subject: summary.subject,
    serialNumber: certificate.serialHex.length >= 2 ? certificate.serialHex : certificate.serialHex.padStart(2, '0'),
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    keyAlgorithm: 'ECDSA-P256',
    fingerprintSha256: certificate.fingerprintSha256,
    certificatePem: certificate.pem,
  };
}
