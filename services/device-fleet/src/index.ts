// Public entry of @tunnelkey/device-fleet: simulated PUF devices speaking the device protocol,
// one at a time (SimulatedDevice) or thousands on the bus (createFleet).
export * from './errors.js';
export { SimulatedDevice } from './simulated-device/simulated-device.js';
export type {
  DeviceState,
  DeviceTransport,
  ManufactureDeviceOptions,
  ReceiveOutcome,
  SimulatedDeviceOptions,
} from './simulated-device/simulated-device.js';
export { flashToJson, parseFlash, serialiseFlash, flashFormatVersion } from './simulated-device/device-flash.js';
export type {
  DeviceFlash,
  PendingCsr,
  StoredCertificate,
  StoredConnectionParameters,
} from './simulated-device/device-flash.js';
export type {
  DeviceObservation,
  DeviceObserver,
  FirmwareEvent,
  JournalEntry,
} from './simulated-device/device-observation.js';
export {
  firmwareImage,
  firmwareMeasurement,
  measureFirmware,
  tamperedFirmwareImage,
} from './simulated-device/firmware-image.js';
export { isDeviceKeyId, keyContextOf, type DeviceKeyId } from './simulated-device/key-ids.js';
export {
  defaultPlatformKeyId,
  loadPlatformPublicKeyFile,
  pinPlatformKey,
  type PinnedPlatformKey,
} from './simulated-device/pinned-platform-key.js';
export {
  attestEnrolmentKey,
  loadManufacturerKeyFile,
  manufacturerKey,
  manufacturerPublicKeyBase64,
  type ManufacturerAttestation,
  type ManufacturerKey,
} from './simulated-device/manufacturer-attestation.js';
export {
  judgeDeliveredCertificate,
  type CertificateRefusal,
  type CertificateVerdict,
} from './simulated-device/certificate-acceptance.js';
export {
  createFleet,
  fleetInboxFilter,
  type AnnounceSummary,
  type Fleet,
  type FleetOptions,
} from './fleet/create-fleet.js';
export { planFaults, type DeviceFault, type FleetFaults, type TamperMode } from './fleet/fault-plan.js';
export {
  firmwareFaults,
  isFirmwareFault,
  planFirmwareFaults,
  type FirmwareFault,
  type FirmwareFaultCounts,
} from './firmware/firmware-faults.js';
export {
  FirmwareUpdater,
  defaultProduct,
  type FirmwareDeviceBindings,
  type FirmwareUpdaterOptions,
  type UpdateKeys,
} from './firmware/firmware-updater.js';
export {
  factorySlots,
  otherSlot,
  runningImage,
  trialBoot,
  writeInactive,
  type BootOutcome,
  type FirmwareSlots,
  type SlotImage,
  type SlotName,
} from './firmware/firmware-slots.js';
export { ChunkDownload, type ChunkDownloadOptions, type ChunkReceipt } from './firmware/chunk-download.js';
export { SharedSignatureChecks } from './firmware/shared-signature-checks.js';
export { failureReasonOf, type UpdateFailureReason } from './firmware/failure-reasons.js';
export { identityFile, identityRow, type IdentityRow } from './fleet/identity-file.js';
export type { FleetMessageCounters, FleetStats } from './fleet/fleet-stats.js';
export { DeviceHardwarePool, type DeviceHardware } from './hardware/device-hardware-pool.js';
export {
  MqttFleet,
  emptyMqttStats,
  type MqttConnectSummary,
  type MqttFleetOptions,
  type MqttFleetStats,
} from './mqtt/mqtt-fleet.js';
export { DeviceMqttLink, type ConnectFailure, type LinkState, type MqttLinkEvent } from './mqtt/device-mqtt-link.js';
export { deviceTlsIdentity, type DeviceTlsIdentity } from './mqtt/device-tls-identity.js';
export { FridgeTelemetry, type FridgeReading } from './mqtt/fridge-telemetry.js';
export {
  FleetHeartbeats,
  integrityFaults,
  type HeartbeatStats,
  type IntegrityFault,
} from './integrity/fleet-heartbeats.js';
