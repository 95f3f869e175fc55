// Public entry of the OTA service: the Nest module, a starter (tests, the demo, the bench), views, ports.
export { OtaModule, otaStreams, type OtaModuleOptions } from './ota.module.js';
export { startOta, type StartOtaOptions, type RunningOta, type OtaViews } from './start-ota.js';
export { otaConfigSchema, otaConfigFromEnv, type OtaConfig } from './config.js';
export * from './tokens.js';
export * from './errors.js';
export {
  InMemoryImageStore,
  encryptedImageName,
  type ImageStore,
  type StoredImage,
} from './image-store-port/image-store.js';
export { ObjectStoreImageStore } from './jetstream/object-store-image-store.js';
export { FleetView, type FleetDevice } from './views/fleet.view.js';
export { FirmwareCatalogView } from './views/firmware-catalog.view.js';
export { RolloutProgressView, type RolloutProgress } from './views/rollout-progress.view.js';
export { deriveFirmwareSigningKeys, signingKeyIdOf } from './signing-keys/signing-keyring.js';
export { rolloutContentKey } from './signing-keys/kek-secrets.js';
