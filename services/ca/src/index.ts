// Public entry of the CA service: the Nest module, a starter for tests and the demo, and the pieces they inspect.
export { CaModule, type CaModuleOptions } from './ca.module.js';
export { startCa, type StartCaOptions, type RunningCa } from './start-ca.js';
export { caConfigFromEnv, caConfigSchema, type CaConfig } from './config.js';
export * from './errors.js';
export {
  CertificateAuthority,
  ROOT_AUTHORITY_ID,
  issuingAuthorityId,
  type LoadedAuthority,
} from './authority/certificate-authority.js';
export { InMemoryCaKeyStore, type CaKeyStore } from './ca-key-store-port/ca-key-store.js';
export { CaCeremony, type CaCeremonyDeps } from './ceremony/ca-ceremony.js';
export { inProcessCeremony, ceremonyOnNats, type InProcessCeremony } from './ceremony/run-ceremony.js';
export { InMemoryCrlStore, type CrlStore } from './crl-store-port/crl-store.js';
export { KvCaKeyStore } from './jetstream/kv-ca-key-store.js';
export { CertificateRefused, type CertificateRejectionReason } from './issue-certificate/certificate-refused.js';
export type { IssuanceOutcome } from './issue-certificate/issue-certificate.handler.js';
