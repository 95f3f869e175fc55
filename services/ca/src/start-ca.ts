/** Starts the CA as a service (tests, the demo, main.ts): wiring only; config from the environment unless given. */
import { readFile } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadPlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import type { EventStore } from '@tunnelkey/eventstore';
import { natsConnectionConfig } from '@tunnelkey/config';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { loadKek, type Kek } from '@tunnelkey/pki';
import { CertificateAuthority } from './authority/certificate-authority.js';
import { CaModule, type CaModuleOptions } from './ca.module.js';
import { caConfigFromEnv, caSecretsEnv, type CaConfig } from './config.js';
import { CaConfigError } from './errors.js';
import { IssueCertificateHandler } from './issue-certificate/issue-certificate.handler.js';
import { PublishCrlHandler } from './publish-crl/publish-crl.handler.js';
import { RevokeCertificatesHandler } from './revoke-certificates/revoke-certificates.handler.js';

export interface StartCaOptions extends Partial<Omit<CaModuleOptions, 'config' | 'kek' | 'platformKey'>> {
  /** An open connection to share; else NATS_URL. */
  nats?: NatsConnection;
  /** Overrides TUNNELKEY_NAMESPACE. */
  namespace?: string;
  /** Overrides single settings of the environment's configuration (e.g. instanceId, httpPort, crlBaseUrl). */
  config?: Partial<CaConfig>;
  /** Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Default: from CA_KEK / CA_KEK_FILE. */
  kek?: Kek;
  /** Default: from PLATFORM_KEY_FILE / PLATFORM_KEY. */
  platformKey?: PlatformKey;
  /** The event store (e.g. an InMemoryEventStore); default JetStream on the connection, in the namespace. */
  store?: EventStore;
}

export interface RunningCa {
  service: RunningService;
  /** The hierarchy (root key export and import). */
  authority: CertificateAuthority;
  /** The issuance pipeline behind the CSR uplink. */
  issuance: IssueCertificateHandler;
  /** Applies revocation requests (behind the ca-revoke-certificates reaction). */
  revocation: RevokeCertificatesHandler;
  /** Publishes and refreshes CRLs. */
  crls: PublishCrlHandler;
  stop(): Promise<void>;
}

export async function startCa(options: StartCaOptions = {}): Promise<RunningCa> {
  const env = options.env ?? process.env;
  const fromEnv = caConfigFromEnv(env);
  const config: CaConfig = {
    ...fromEnv,
    ...options.config,
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
  };
  const secrets = caSecretsEnv(env);
  const kek = options.kek ?? (await loadKek({ env: secrets, readFile: (path) => readFile(path) }));
  const platformKey = options.platformKey ?? (await loadPlatformKey(secrets));
  if (!platformKey)
    throw new CaConfigError('no platform key: set PLATFORM_KEY_FILE or PLATFORM_KEY', {
      variable: 'PLATFORM_KEY_FILE',
    });
  const {
    nats,
    store,
    namespace: _namespace,
    config: _config,
    env: _env,
    kek: _kek,
    platformKey: _platformKey,
    ...rest
  } = options;
  const service = await startService({
    service: 'ca',
    module: CaModule.forRoot({ ...rest, config, kek, platformKey }),
    namespace: config.namespace,
    httpPort: config.httpPort,
    // the credentials from the environment, kept out of CaConfig like the other secrets
    natsConfig: { ...natsConnectionConfig(env), natsUrl: config.natsUrl },
    ...(nats ? { nats } : {}),
    ...(store ? { eventStore: store } : {}),
  });
  const { app } = service;
  return {
    service,
    authority: app.get(CertificateAuthority),
    issuance: app.get(IssueCertificateHandler),
    revocation: app.get(RevokeCertificatesHandler),
    crls: app.get(PublishCrlHandler),
    stop: () => service.stop(),
  };
}
