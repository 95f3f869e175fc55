import { PufDevice } from '../device/puf-device.js';
import { enrolResponse, recoverRootSecret } from '../extractor/fuzzy-extractor.js';
import { KeyContext } from '../keys/key-context.js';
import { deriveContextSecret } from '../keys/p256-key-derivation.js';
import { OperatingConditions } from '../simulation/operating-conditions.js';

/**
 * Analysis-only access to 256-bit context secrets (kept internal: not exported from the package
 * entry). Enrols each device once, then re-derives each context's secret from a fresh read at
 * `at`, exactly as PufDevice.deriveKey does before the P-256 step. Nothing is persisted.
 */
export function sampleContextSecrets(
  devices: readonly PufDevice[],
  contexts: readonly KeyContext[],
  at: OperatingConditions,
): Uint8Array[] {
  const secrets: Uint8Array[] = [];
  for (const device of devices) {
    const { helperData, rootSecret: enrolled } = enrolResponse(device.readEnrolmentReference(), device.profile.code);
    enrolled.fill(0);
    const root = recoverRootSecret(device.readResponse(at), helperData);
    for (const c of contexts) secrets.push(deriveContextSecret(root, c));
    root.fill(0);
  }
  return secrets;
}
