import type { CustodyRecord, identityVerificationFailures, RevocationReason } from '@tunnelkey/contracts';
import type { Static } from '@sinclair/typebox';

export type VerificationFailureReason = (typeof identityVerificationFailures)[number];
export type IdentitySource = 'json' | 'csv' | 'device-report';

/** What the platform knows of a device's root of trust: public data only. */
export interface DeviceIdentity {
  deviceId: string;
  /** SPKI DER, base64, canonical form. */
  enrolmentPublicKey: string;
  /** SHA-256 hex of the SPKI DER. */
  enrolmentKeyDigest: string;
  firmwareMeasurement?: string;
}

export interface BatchMembership {
  batchId: string;
  source: IdentitySource;
  /** The import call (file) or enrolment-key request it came through. */
  importId?: string;
  requestId?: string;
  metadata?: Record<string, string>;
  joinedAt: string;
}

/** A challenge sent and not yet answered. Only the nonce's digest is kept. */
export interface PendingChallenge {
  challengeId: string;
  nonceDigest: string;
  expiresAt: string;
  /** When it was recorded (absent in states folded before it was kept). */
  issuedAt?: string;
  /** Failures recorded against it that did not close it (forgeries must not lock a device out). */
  failures: VerificationFailureReason[];
}

export interface CertificateRecord {
  authorityId: string;
  serialNumber: string;
  fingerprintSha256: string;
  notAfter: string;
  certifiedAt: string;
}

/** One transfer in a device's history: who handed it to whom, and the signed custody record. */
export interface CustodyEntry {
  transferId: string;
  fromOwnerId?: string;
  toOwnerId: string;
  toBatchId?: string;
  ownerEpoch: number;
  transferredAt: string;
  custody?: Static<typeof CustodyRecord>;
}

/** Everything a device in a batch carries, whatever its status. */
export interface EnrolledDevice {
  identity: DeviceIdentity;
  membership: BatchMembership;
  challenge?: PendingChallenge;
  lastFailure?: { challengeId: string; reason: VerificationFailureReason; at: string };
  verifiedAt?: string;
  certificate?: CertificateRecord;
  /** The certificate a later one replaced (a renewal): kept so the device shows both. */
  previousCertificate?: CertificateRecord;
  /** The owner epoch its keys are derived under (absent: 0, the first owner's). */
  ownerEpoch?: number;
  /** Its transfers, oldest first (absent: never transferred). */
  custodyChain?: CustodyEntry[];
}

/**
 * The device aggregate: Announced -> Imported -> Verified -> Certified. Transferred: handed to a new
 * owner (in its batch, under a new owner epoch) and not yet verified again: it goes on to Verified and
 * Certified as an imported device does. Onboarded is here so the onboarding slice extends the union.
 */
export type DeviceState =
  | { status: 'Unknown' }
  | { status: 'Announced'; identity: DeviceIdentity; announcedAt: string }
  | ({ status: 'Imported' } & EnrolledDevice)
  | ({ status: 'Verified'; verifiedAt: string } & EnrolledDevice)
  // verifiedAt stays optional: the CA is the authority on issuance and its event is recorded as is.
  | ({ status: 'Certified'; certificate: CertificateRecord } & EnrolledDevice)
  | ({ status: 'Onboarded'; certificate: CertificateRecord; targetIds: string[] } & EnrolledDevice)
  | {
      status: 'Revoked';
      identity?: DeviceIdentity;
      membership?: BatchMembership;
      revocation: { revocationId: string; reason: RevocationReason; revokedAt: string };
    }
  | ({ status: 'Transferred'; transfer: { transferId: string; ownerId: string; ownerEpoch: number } } & EnrolledDevice);

/** The owner epoch a device's keys are derived under. */
export function ownerEpochOf(state: DeviceState): number {
  return isEnrolled(state) ? (state.ownerEpoch ?? 0) : 0;
}

export type DeviceStatus = DeviceState['status'];
export const deviceStatuses: readonly DeviceStatus[] = [
  'Unknown',
  'Announced',
  'Imported',
  'Verified',
  'Certified',
  'Onboarded',
  'Revoked',
  'Transferred',
];

/** A zero count for every status. */
export function emptyStatusCounts(): Record<DeviceStatus, number> {
  return Object.fromEntries(deviceStatuses.map((status) => [status, 0])) as Record<DeviceStatus, number>;
}

export type EnrolledState = Extract<DeviceState, EnrolledDevice>;

export function isEnrolled(state: DeviceState): state is EnrolledState {
  return 'membership' in state && state.membership !== undefined && state.status !== 'Revoked';
}

/** The device's enrolment key, whatever its status (undefined when the registry never learnt it). */
export function identityOf(state: DeviceState): DeviceIdentity | undefined {
  return state.status === 'Unknown' ? undefined : state.identity;
}

/** Failures that end a challenge: the genuine device answered wrongly, or too late. */
export const challengeClosingFailures: readonly VerificationFailureReason[] = [
  'nonce-mismatch',
  'expired',
  'no-response',
];
