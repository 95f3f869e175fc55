// Public entry of the CA service: the Nest module, a starter for tests and the demo, and the pieces they inspect.
export { CaModule, type CaModuleOptions } from './ca.module.js';
export { startCa, type StartCaOptions, type RunningCa } from './start-ca.js';
export { CaRuntime, type CaRuntimeOptions } from './ca-runtime.js';
export { caConfigFromEnv, type CaConfig } from './config.js';
export { CA_RUNTIME } from './tokens.js';
export * from './errors.js';
export { CertificateAuthority, ROOT_AUTHORITY_ID, issuingAuthorityId, type LoadedAuthority } from './authority/certificate-authority.js';
export { InMemoryCaKeyStore, type CaKeyStore } from './authority/ca-key-store.js';
export { KvCaKeyStore } from './authority/kv-ca-key-store.js';
export { CertificateRefused, type CertificateRejectionReason } from './certificate-issuance/certificate-refused.js';
export type { IssuanceOutcome } from './certificate-issuance/certificate-issuance.js';
