/** Whether a device is revoked, as far as the views know: by the CA (its certificate) or by the registry. */
import type { BatchPlanView } from './batch-plan.view.js';
import type { CertificatesView } from './certificates.view.js';

export const isRevoked = (certificates: CertificatesView, plans: BatchPlanView, deviceId: string): boolean =>
  certificates.device(deviceId)?.revoked === true || plans.revokedByRegistry(deviceId);
