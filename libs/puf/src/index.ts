// Public entry of @tunnelkey/puf: the device root of trust (simulated silicon, fuzzy extractor,
// on-demand keys, identity) and the analysis behind its figures. Raw root secrets and private
// scalars never cross this boundary: callers get non-extractable CryptoKeys and public data.

// Device facade
export {
  PufDevice,
  deriveFirmwareDecryptionKeysFromRead,
  deriveKeysFromRead,
  enrolmentRecordToJson,
} from './device/puf-device.js';
export type { EnrolmentRecord, FirmwareDecryptionKeys, ManufactureOptions, PufRead } from './device/puf-device.js';

// Keys and identity
export {
  ENROLMENT_CONTEXT,
  FIRMWARE_DECRYPTION_CONTEXT,
  FIRMWARE_KEM_CONTEXT,
  firmwareDecryptionContext,
  firmwareKemContext,
  keyAlgorithmOf,
  keyContextLabel,
  ownerContext,
  tlsContext,
} from './keys/key-context.js';
export type { KemKeyContext, KeyContext } from './keys/key-context.js';
export { ML_KEM_768_PUBLIC_KEY_BYTES } from './keys/ml-kem-key-derivation.js';
export type { DerivedKemKeyPair } from './keys/ml-kem-key-derivation.js';
export type { DerivedKeyPair } from './keys/p256-key-derivation.js';
export { importPublicKey } from './keys/p256-key-derivation.js';
export {
  DEVICE_ID_PATTERN,
  deviceIdMatchesPublicKey,
  identityFromPublicKey,
  isDeviceId,
  p256SpkiFromPoint,
} from './keys/device-identity.js';

// Helper data (public, integrity-protected)
export {
  HELPER_DATA_VERSION,
  helperDataFromBase64,
  helperDataToBase64,
  parseHelperData,
  serialiseHelperData,
} from './extractor/helper-data.js';
export type { HelperData } from './extractor/helper-data.js';

// Silicon model
export {
  PUF_PROFILES,
  SRAM_PROFILE,
  TUNNELLING_PROFILE,
  cellCountOf,
  customiseProfile,
} from './simulation/puf-profiles.js';
export type { CellModelParameters, PufProfile, PufProfileName } from './simulation/puf-profiles.js';
export { NOMINAL_CONDITIONS, TEMPERATURE_CORNERS_C, conditions } from './simulation/operating-conditions.js';
export type { OperatingConditions } from './simulation/operating-conditions.js';
export { DeterministicPrng, seedFromNumber } from './simulation/deterministic-prng.js';
export type { SimulationSeed } from './simulation/deterministic-prng.js';
export { manufacturingSeed } from './simulation/simulated-cell-array.js';

// Codes
export { SRAM_CODE_SCHEME, TUNNELLING_CODE_SCHEME } from './codes/concatenated-code.js';
export type { ConcatenatedCodeScheme } from './codes/concatenated-code.js';
export { BchCode, BCH_255_131_18 } from './codes/bch-code.js';
export { RepetitionCode } from './codes/repetition-code.js';

// Analysis
export { analyticBitErrorRate, analyticOneProbability, profileWithOneProbability } from './analysis/bit-error-model.js';
export { analyticKeyFailureRate } from './analysis/code-failure-model.js';
export type { CodeFailureBreakdown } from './analysis/code-failure-model.js';
export { monteCarloKeyFailureRate } from './analysis/key-failure-monte-carlo.js';
export type { MonteCarloKeyFailure } from './analysis/key-failure-monte-carlo.js';
export { residualEntropy } from './analysis/residual-entropy.js';
export type { ResidualEntropyReport } from './analysis/residual-entropy.js';
export { intraDeviceDistances, responseQuality } from './analysis/response-statistics.js';
export type { ResponseQuality } from './analysis/response-statistics.js';
export { summarise } from './analysis/summary-statistics.js';
export type { Summary } from './analysis/summary-statistics.js';

// Errors
export {
  HelperDataFormatError,
  InvalidPufParameterError,
  KeyCheckMismatchError,
  KeyReconstructionError,
  PufError,
  isHelperDataFormatError,
  isKeyCheckMismatchError,
  isKeyReconstructionError,
  isPufError,
} from './errors.js';
