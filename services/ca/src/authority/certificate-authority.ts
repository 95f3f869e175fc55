/**
 * The CA hierarchy as the service uses it: the root's certificate (its key stays offline, with the
 * admin ceremony, see ../ceremony) and an issuing CA per owner, whose key the ceremony wrapped under
 * the service's KEK into the key store. The service creates no authority: an owner without an
 * issuing CA is refused until the ceremony signs one. Events carry the public certificates.
 */
import { createHash } from 'node:crypto';
import {
  loadIssuer,
  parseCertificate,
  summarizeCertificate,
  unwrapCaSigner,
  verifySignature,
  type CertificateIssuer,
  type IssuedCertificate,
  type Kek,
  type ParsedCertificate,
  type Signer,
} from '@tunnelkey/pki';
import { load, type EventStore } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import { AuthorityUnavailableError, CaCommandRejected } from '../errors.js';
import {
  authorityDecider,
  authorityStream,
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
  /** Undefined for the root: its key never comes online (the ceremony holds it). */
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

/** How an operator runs the ceremony step a refusal asks for. */
const ceremonyCommand = (step: string) => `npm run ca:ceremony -- ${step}`;

/** Authority ids are subject tokens: `root`, `issuing-<ownerId>` (hashed when the owner id is long). */
export const issuingAuthorityId = (ownerId: string): string => {
  const id = `issuing-${ownerId}`;
  return id.length <= 128 ? id : `issuing-h${createHash('sha256').update(ownerId).digest('hex').slice(0, 40)}`;
};

/** The CA id bound into a wrapped key's AAD (pki allows [A-Za-z0-9._:-]; aggregate ids may hold `_`, never `.`). */
export const keyBindingId = (authorityId: string) => authorityId.replace(/_/g, '.');

/** Who the CA's own writes name as their actor. */
export const caActor = { kind: 'service' as const, id: 'ca' };

export class CertificateAuthority {
  readonly #deps: CertificateAuthorityDeps;
  #root: Promise<LoadedAuthority> | undefined;
  readonly #issuing = new Map<string, Promise<LoadedAuthority>>();

  constructor(deps: CertificateAuthorityDeps) {
    this.#deps = deps;
  }

  /** The root's certificate, as the ceremony recorded it; never its key (it is not online). */
  root(): Promise<LoadedAuthority> {
    this.#root ??= this.#singleFlight(
      () => this.#loadRoot(),
      () => (this.#root = undefined),
    );
    return this.#root;
  }

  /**
   * The owner's issuing CA, with a signer for its key. Refused (`no-issuing-authority`) when the
   * ceremony has not signed one for this owner: the service never creates one itself.
   */
  issuingFor(ownerId: string): Promise<LoadedAuthority> {
    let loaded = this.#issuing.get(ownerId);
    if (!loaded) {
      loaded = this.#singleFlight(
        () => this.#loadIssuing(ownerId),
        () => this.#issuing.delete(ownerId),
      );
      this.#issuing.set(ownerId, loaded);
    }
    return loaded;
  }

  /** True when the ceremony has recorded an issuing CA for the owner (reads the log, no key). */
  async hasIssuing(ownerId: string): Promise<boolean> {
    return (await this.#state(issuingAuthorityId(ownerId))).status !== 'Absent';
  }

  async #loadRoot(): Promise<LoadedAuthority> {
    const state = await this.#state(ROOT_AUTHORITY_ID);
    if (state.status === 'Absent')
      throw new AuthorityUnavailableError(`no root CA: run the ceremony (${ceremonyCommand('create-root')})`, {});
    return this.#assemble(state.authority, undefined, [], `${this.#deps.settings.crlBaseUrl}/${ROOT_AUTHORITY_ID}.crl`);
  }

  async #loadIssuing(ownerId: string): Promise<LoadedAuthority> {
    const authorityId = issuingAuthorityId(ownerId);
    const state = await this.#state(authorityId);
    if (state.status === 'Absent') {
      throw new CaCommandRejected(
        'no-issuing-authority',
        `no issuing CA for owner ${ownerId}: run the ceremony (${ceremonyCommand(`sign-issuing-ca --owner ${ownerId}`)})`,
        { ownerId },
      );
    }
    const root = await this.root();
    const wrapped = await this.#deps.keys.get(authorityId);
    if (!wrapped) throw new AuthorityUnavailableError('the issuing CA key is not in the key store', { authorityId });
    const signer = await unwrapCaSigner({ wrapped, kek: this.#deps.kek, caId: keyBindingId(authorityId) });
    const crlUrl = `${this.#deps.settings.crlBaseUrl}/${authorityId}.crl`;
    const issuing = this.#assemble(state.authority, signer, root.chainPem, crlUrl);
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

  /** Caches the promise; a failure is not cached, so the next caller tries again. */
  #singleFlight<T>(run: () => Promise<T>, forget: () => void): Promise<T> {
    const promise = run();
    promise.catch(() => forget());
    return promise;
  }
}

export function authorityData(
  authorityId: string,
  role: 'root' | 'issuing',
  certificate: IssuedCertificate,
): AuthorityData {
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
