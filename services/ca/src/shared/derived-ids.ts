/**
 * Ids derived from what identifies an intent, so that a retry (of a command, of a CSR) maps to
 * the same id, hence the same message id and the same events.
 */
import { createHash } from 'node:crypto';

const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex');

/** The requestId a CertifyDevices command gives one device: a retried command asks for the same certificate. */
export const certificationRequestId = (commandId: string, deviceId: string): string => `r-${digest('certify', commandId, deviceId).slice(0, 32)}`;

/** Command id (and JetStream message id) of recording a certificate for one request and key. */
export const issuanceCommandId = (deviceId: string, requestId: string, publicKeyDigest: string): string =>
  `issue-${digest('issue', deviceId, requestId, publicKeyDigest).slice(0, 48)}`;

/** Command id of recording one refusal of one request. */
export const rejectionCommandId = (deviceId: string, requestId: string, reason: string): string =>
  `reject-${digest('reject', deviceId, requestId, reason).slice(0, 48)}`;

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
