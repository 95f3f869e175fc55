/**
 * When a certificate renews, and with which key: pure functions of the certificate, the policy and
 * the device. A certificate renews once `renewAtShare` of its lifetime has passed, minus a jitter
 * of up to `jitterShare` of it, drawn from the device and serial (stable across restarts and CA
 * instances, different for every device), so a batch certified together spreads its renewals.
 */
import { createHash } from 'node:crypto';
import { defaultRenewAtShare, defaultRenewalJitterShare, parseTlsKeyId, tlsKeyId } from '@tunnelkey/contracts';

export interface RenewalSettings {
  renewAtShare: number;
  jitterShare: number;
}

export const defaultRenewalSettings: RenewalSettings = {
  renewAtShare: defaultRenewAtShare,
  jitterShare: defaultRenewalJitterShare,
};

export interface CertificateLifetime {
  deviceId: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
}

/** A number in [0, 1) from the device and serial: the same on every instance and after a restart. */
export function jitterOf(deviceId: string, serialNumber: string): number {
  const digest = createHash('sha256').update(`renewal\u0000${deviceId}\u0000${serialNumber}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** The moment the certificate is due for renewal (epoch ms). */
export function renewalDueAt(certificate: CertificateLifetime, settings: RenewalSettings): number {
  const notBefore = Date.parse(certificate.notBefore);
  const lifetime = Date.parse(certificate.notAfter) - notBefore;
  const jitter =
    Math.min(settings.jitterShare, settings.renewAtShare) * jitterOf(certificate.deviceId, certificate.serialNumber);
  return notBefore + Math.floor(lifetime * (settings.renewAtShare - jitter));
}

export function isRenewalDue(certificate: CertificateLifetime, settings: RenewalSettings, now: number): boolean {
  return now >= renewalDueAt(certificate, settings);
}

/**
 * The key a renewal certifies: one TLS generation past every key the device had certified (under
 * any owner epoch), under the device's owner epoch.
 */
export function nextTlsKeyId(highestTlsGeneration: number | undefined, ownerEpoch = 0): string {
  return tlsKeyId(highestTlsGeneration === undefined ? 0 : highestTlsGeneration + 1, ownerEpoch);
}

/** The TLS generation a key id names (undefined for the enrolment key). */
export function tlsGenerationOf(keyId: string): number | undefined {
  return parseTlsKeyId(keyId)?.generation;
}
