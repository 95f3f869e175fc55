/**
 * The ceremony wired to a store: on NATS (the CLI, and tests and the demo that run the platform in
 * one process) or on a store a test passes. `inProcessCeremony` keeps an ephemeral root key in
 * memory only, for tests and the demo: it creates the root and signs the owners' issuing CAs, and
 * the key dies with the handle. Production runs the CLI (ceremony.main.ts) with a root key of its own.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventStore } from '@tunnelkey/eventstore';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { generateP256KeyPair, Kek, WebCryptoSigner, type Signer } from '@tunnelkey/pki';
import type { Logger } from 'pino';
import type { HierarchySettings } from '../authority/certificate-authority.js';
import type { CaKeyStore } from '../ca-key-store-port/ca-key-store.js';
import { caConfigFromEnv } from '../config.js';
import type { AuthorityData } from '../deciders/authority.decider.js';
import { KvCaKeyStore } from '../jetstream/kv-ca-key-store.js';
import { CaCeremony } from './ca-ceremony.js';

/** The CA stream and the service's key bucket of a namespace, for the ceremony. */
export async function ceremonyOnNats(options: {
  nats: NatsConnection;
  namespace: string;
  /** Needed to sign issuing CAs (their keys are wrapped under it); not to create the root. */
  serviceKek?: Kek;
  settings?: Partial<HierarchySettings>;
  logger: Logger;
  /** Replicas of the CA stream and key bucket if the ceremony creates them (as the CA service would: JETSTREAM_REPLICAS). */
  replicas?: number;
}): Promise<CaCeremony> {
  const replicas = options.replicas ?? 1;
  const store = new JetStreamEventStore(options.nats, {
    namespace: options.namespace,
    logger: options.logger,
    replicas,
  });
  await store.ensureStreams(['ca']);
  const keys = await KvCaKeyStore.open(options.nats, options.namespace, { replicas });
  return new CaCeremony({
    store,
    keys,
    ...(options.serviceKek ? { serviceKek: options.serviceKek } : {}),
    settings: { ...defaultSettings(), ...options.settings },
    logger: options.logger,
  });
}

export const defaultSettings = (): HierarchySettings => {
  const { crlBaseUrl, rootLifetimeDays, issuingLifetimeDays, organization } = caConfigFromEnv({});
  return { crlBaseUrl, rootLifetimeDays, issuingLifetimeDays, organization };
};

export interface InProcessCeremony {
  readonly root: AuthorityData;
  /** Signs (or returns) the owner's issuing CA with the in-memory root key. */
  signIssuingCa(ownerId: string): Promise<AuthorityData>;
}

/**
 * Tests and the demo: a root with a fresh in-memory key (non-extractable, never stored), then the
 * issuing CAs of `owners`. On NATS (`nats`) or on a given store and key store.
 */
export async function inProcessCeremony(
  options: {
    serviceKek: Kek;
    owners?: readonly string[];
    settings?: Partial<HierarchySettings>;
    logger: Logger;
  } & ({ nats: NatsConnection; namespace: string } | { store: EventStore; keys: CaKeyStore }),
): Promise<InProcessCeremony> {
  const ceremony =
    'nats' in options
      ? await ceremonyOnNats(options)
      : new CaCeremony({
          store: options.store,
          keys: options.keys,
          serviceKek: options.serviceKek,
          settings: { ...defaultSettings(), ...options.settings },
          logger: options.logger,
        });
  const rootSigner: Signer = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const root = await ceremony.createRoot(rootSigner);
  const handle: InProcessCeremony = { root, signIssuingCa: (ownerId) => ceremony.signIssuingCa(ownerId, rootSigner) };
  for (const ownerId of options.owners ?? []) await handle.signIssuingCa(ownerId);
  return handle;
}
