/**
 * The CA's admin ceremony: the only place the root key signs. It creates the root (its key held by
 * the ceremony: a file wrapped under a root KEK that is not the service's, or a PKCS#11 token) and
 * signs an owner's issuing CA under it. The issuing CA's key is generated here, wrapped under the
 * service's KEK and put in the service's key store; the authority is recorded on the CA stream
 * (`AuthorityCreated`). The CA service itself never holds the root key: it loads the root's
 * certificate and the issuing CAs' keys only.
 */
import {
  buildIssuingCaCertificate,
  buildRootCaCertificate,
  generateWrappedCaKey,
  loadIssuer,
  parseCertificate,
  spkiEqual,
  unwrapCaSigner,
  type Kek,
  type Signer,
} from '@tunnelkey/pki';
import { handleCommand, load, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import {
  authorityData,
  issuingAuthorityId,
  keyBindingId,
  ROOT_AUTHORITY_ID,
  type HierarchySettings,
} from '../authority/certificate-authority.js';
import type { CaKeyStore } from '../ca-key-store-port/ca-key-store.js';
import { authorityDecider, authorityStream, type AuthorityData } from '../deciders/authority.decider.js';
import { CaCommandRejected } from '../errors.js';

export interface CaCeremonyDeps {
  store: EventStore;
  /** The service's key store: where the issuing CAs' wrapped keys go. */
  keys: CaKeyStore;
  /** The service's KEK (issuing keys are wrapped under it); never the root's. Only signIssuingCa needs it. */
  serviceKek?: Kek;
  settings: HierarchySettings;
  clock?: () => Date;
  logger: Logger;
}

const day = 86_400_000;
const caBackdateMs = 3_600_000;
const truncate = (text: string, max: number) => (text.length <= max ? text : text.slice(0, max));

export class CaCeremony {
  readonly #deps: CaCeremonyDeps;
  readonly #clock: () => Date;

  constructor(deps: CaCeremonyDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? (() => new Date());
  }

  /** Self-signs the root with `rootSigner` and records it; refuses if a root is recorded already. */
  async createRoot(rootSigner: Signer): Promise<AuthorityData> {
    const existing = await this.#authority(ROOT_AUTHORITY_ID);
    if (existing) throw new CaCommandRejected('root-exists', 'a root CA is recorded already', {});
    const { organization, rootLifetimeDays } = this.#deps.settings;
    const now = this.#clock().getTime();
    const certificate = await buildRootCaCertificate({
      subject: { commonName: truncate(`${organization} Root CA`, 64), organization },
      signer: rootSigner,
      notBefore: new Date(now - caBackdateMs),
      notAfter: new Date(now + rootLifetimeDays * day),
    });
    const recorded = await this.#record(authorityData(ROOT_AUTHORITY_ID, 'root', certificate));
    if (!spkiEqual(parseCertificate(recorded.certificatePem).spki, rootSigner.publicKeySpki))
      throw new CaCommandRejected('root-exists', 'another root CA was recorded first', {});
    return recorded;
  }

  /**
   * Signs `ownerId`'s issuing CA under the root: a new key wrapped under the service's KEK into the
   * service's key store, the certificate signed by `rootSigner`, the authority recorded. Idempotent:
   * an owner that has one gets it back unchanged.
   */
  async signIssuingCa(ownerId: string, rootSigner: Signer): Promise<AuthorityData> {
    if (!ownerId.trim() || ownerId.length > 256)
      throw new CaCommandRejected('invalid-owner', 'the owner id must be 1..256 characters', {});
    const root = await this.#authority(ROOT_AUTHORITY_ID);
    if (!root) throw new CaCommandRejected('no-root', 'no root CA is recorded: run the ceremony create-root first', {});
    const rootCertificate = parseCertificate(root.certificatePem);
    if (!spkiEqual(rootCertificate.spki, rootSigner.publicKeySpki))
      throw new CaCommandRejected('key-mismatch', "the root key given is not the recorded root certificate's key", {});
    const authorityId = issuingAuthorityId(ownerId);
    const existing = await this.#authority(authorityId);
    if (existing) return existing;
    const signer = await this.#issuingKey(authorityId);
    const { crlBaseUrl, organization, issuingLifetimeDays } = this.#deps.settings;
    const now = this.#clock().getTime();
    const certificate = await buildIssuingCaCertificate({
      subject: {
        commonName: truncate(`${organization} Issuing CA ${ownerId}`, 64),
        organization,
        organizationalUnit: truncate(ownerId, 64),
      },
      publicKeySpki: signer.publicKeySpki,
      issuer: loadIssuer({ certificate: rootCertificate, signer: rootSigner }),
      notBefore: new Date(Math.max(now - caBackdateMs, rootCertificate.notBefore.getTime())),
      notAfter: new Date(Math.min(now + issuingLifetimeDays * day, rootCertificate.notAfter.getTime())),
    });
    const recorded = await this.#record({
      ...authorityData(authorityId, 'issuing', certificate),
      ownerId,
      parentAuthorityId: ROOT_AUTHORITY_ID,
      crlUrl: `${crlBaseUrl}/${authorityId}.crl`,
    });
    this.#deps.logger.info(
      { event: 'ca.ceremony.issuing_signed', authorityId, serialNumber: recorded.serialNumber },
      'issuing CA signed under the root',
    );
    return recorded;
  }

  /** A fresh key in the service's store, or the one a ceremony interrupted before recording left there. */
  async #issuingKey(authorityId: string): Promise<Signer> {
    const { keys, serviceKek: kek } = this.#deps;
    if (!kek) throw new CaCommandRejected('no-service-kek', "signing an issuing CA needs the service's KEK", {});
    const caId = keyBindingId(authorityId);
    const left = await keys.get(authorityId);
    if (left) return unwrapCaSigner({ wrapped: left, kek, caId });
    const fresh = await generateWrappedCaKey({ kek, caId });
    if (await keys.create(authorityId, fresh.wrapped)) return fresh.signer;
    const winner = await keys.get(authorityId);
    if (!winner) throw new CaCommandRejected('key-store', 'the issuing key vanished while being created', {});
    return unwrapCaSigner({ wrapped: winner, kek, caId });
  }

  async #authority(authorityId: string): Promise<AuthorityData | undefined> {
    const { state } = await load(this.#deps.store, authorityDecider, authorityStream(authorityId));
    return state.status === 'Absent' ? undefined : state.authority;
  }

  async #record(data: AuthorityData): Promise<AuthorityData> {
    await handleCommand({
      store: this.#deps.store,
      decider: authorityDecider,
      stream: authorityStream(data.authorityId),
      command: {
        type: 'CreateAuthority',
        data,
        metadata: metadataOf(
          { commandId: `ceremony-create-authority-${data.authorityId}`, actor: ceremonyActor },
          this.#clock(),
        ),
      },
      logger: this.#deps.logger,
    });
    // Re-read rather than trust our own decision: a concurrent ceremony may have been first.
    const recorded = await this.#authority(data.authorityId);
    if (!recorded) throw new CaCommandRejected('not-recorded', 'the authority was not recorded', {});
    this.#deps.logger.info(
      { event: 'ca.authority_ready', authorityId: data.authorityId, role: recorded.role },
      'authority recorded by the ceremony',
    );
    return recorded;
  }
}

/** The ceremony writes as an admin, not as the service. */
export const ceremonyActor = { kind: 'operator' as const, id: 'ca-ceremony' };
