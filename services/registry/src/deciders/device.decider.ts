import {
  DeviceAnnounced,
  DeviceCertified,
  DeviceIdentityImported,
  DeviceRevoked,
  EnrolmentKeyReported,
  IdentityChallengeIssued,
  IdentityVerificationFailed,
  IdentityVerified,
  IntegrityAlertRaised,
  OwnershipTransferCompleted,
  OwnershipTransferRequested,
  type DataOf,
  type EventOf,
} from '@tunnelkey/contracts';
import type { Command, Decider } from '@tunnelkey/eventstore';
import { refused } from '../shared/registry-errors.js';
import { decided } from './decided.js';
import {
  challengeClosingFailures,
  identityOf,
  isEnrolled,
  type BatchMembership,
  type CustodyEntry,
  type DeviceState,
  type EnrolledState,
  type VerificationFailureReason,
} from './device-state.js';

export type AnnounceDeviceCommand = Command<'AnnounceDevice', DataOf<typeof DeviceAnnounced>>;
export type ImportDeviceIdentityCommand = Command<'ImportDeviceIdentity', DataOf<typeof DeviceIdentityImported>>;
export type RecordEnrolmentKeyReportCommand = Command<'RecordEnrolmentKeyReport', DataOf<typeof EnrolmentKeyReported>>;
/**
 * `replaces`: a challenge re-issued after a restart (its nonce died with the process that issued it):
 * issued only while that challenge is the one pending, so a challenge answered, closed or superseded
 * meanwhile is never reopened.
 */
export type IssueIdentityChallengeCommand = Command<
  'IssueIdentityChallenge',
  DataOf<typeof IdentityChallengeIssued> & { replaces?: string }
>;
/** A signed identity-response whose envelope verified under `enrolmentKeyDigest`'s key. */
export type CheckIdentityResponseCommand = Command<
  'CheckIdentityResponse',
  {
    deviceId: string;
    challengeId: string;
    nonceDigest: string;
    enrolmentKeyDigest: string;
    firmwareMeasurement?: string;
  }
>;
/** A response refused before it could be trusted (bad signature, replay, malformed): kept as a fact, the challenge stays open. */
export type RecordVerificationFailureCommand = Command<
  'RecordVerificationFailure',
  { deviceId: string; challengeId: string; reason: VerificationFailureReason }
>;
export type RecordCertificateCommand = Command<'RecordCertificate', DataOf<typeof DeviceCertified>>;
/**
 * One device's part of a TransferOwnership whose custody record was checked (every signature, the
 * keys' owners, the device's owner: transfer-ownership/transfer.decider.ts). `fromOwnerId` and
 * `ownerEpoch` are what was checked: if the device moved meanwhile, the record no longer applies.
 */
export type TransferDeviceCommand = Command<
  'TransferDevice',
  Required<
    Pick<
      DataOf<typeof OwnershipTransferCompleted>,
      'deviceId' | 'transferId' | 'ownerId' | 'ownerEpoch' | 'fromOwnerId' | 'batchId' | 'custody'
    >
  >
>;

export type DeviceCommand =
  | AnnounceDeviceCommand
  | ImportDeviceIdentityCommand
  | RecordEnrolmentKeyReportCommand
  | IssueIdentityChallengeCommand
  | CheckIdentityResponseCommand
  | RecordVerificationFailureCommand
  | RecordCertificateCommand
  | TransferDeviceCommand;

export type DeviceEvent =
  | EventOf<typeof DeviceAnnounced>
  | EventOf<typeof DeviceIdentityImported>
  | EventOf<typeof EnrolmentKeyReported>
  | EventOf<typeof IdentityChallengeIssued>
  | EventOf<typeof IdentityVerified>
  | EventOf<typeof IdentityVerificationFailed>
  | EventOf<typeof DeviceCertified>
  | EventOf<typeof DeviceRevoked>
  | EventOf<typeof IntegrityAlertRaised>
  | EventOf<typeof OwnershipTransferRequested>
  | EventOf<typeof OwnershipTransferCompleted>;

/** Reasons a device command is refused; import rows report the first three as they are. */
export const deviceRefusals = [
  'in-other-batch',
  'key-conflict',
  'device-revoked',
  'unknown-device',
  'not-imported',
  'unknown-challenge',
  'stale-custody-record',
] as const;

export const deviceDecider: Decider<DeviceCommand, DeviceEvent, DeviceState> = {
  initialState: () => ({ status: 'Unknown' }),

  decide(command, state) {
    const deviceId = command.data.deviceId;
    switch (command.type) {
      case 'AnnounceDevice': {
        if (state.status === 'Unknown') return [decided(DeviceAnnounced, command.data)];
        refuseRevoked(state, deviceId);
        requireSameKey(state, command.data.enrolmentKeyDigest);
        return []; // already known: announcing again changes nothing
      }
      case 'ImportDeviceIdentity':
        return joinBatch(state, deviceId, command.data.batchId, command.data.enrolmentKeyDigest)
          ? [decided(DeviceIdentityImported, command.data)]
          : [];
      case 'RecordEnrolmentKeyReport':
        return joinBatch(state, deviceId, command.data.batchId, command.data.enrolmentKeyDigest)
          ? [decided(EnrolmentKeyReported, command.data)]
          : [];
      case 'IssueIdentityChallenge': {
        const enrolled = requireEnrolled(state, deviceId);
        const { replaces, ...issued } = command.data;
        if (enrolled.challenge?.challengeId === issued.challengeId) return [];
        if (replaces !== undefined && enrolled.challenge?.challengeId !== replaces) return [];
        return [decided(IdentityChallengeIssued, issued)];
      }
      case 'CheckIdentityResponse': {
        const enrolled = requireEnrolled(state, deviceId);
        const { challenge } = enrolled;
        const { challengeId } = command.data;
        if (!challenge || challenge.challengeId !== challengeId) {
          throw refused('unknown-challenge', `no pending challenge ${challengeId} for device ${deviceId}`, {
            deviceId,
            challengeId,
          });
        }
        const failed = (reason: VerificationFailureReason) => [
          decided(IdentityVerificationFailed, { deviceId, challengeId, nonceDigest: challenge.nonceDigest, reason }),
        ];
        if (command.data.enrolmentKeyDigest !== enrolled.identity.enrolmentKeyDigest) {
          return challenge.failures.includes('wrong-key') ? [] : failed('wrong-key');
        }
        if (Date.parse(command.metadata.now) > Date.parse(challenge.expiresAt)) return failed('expired');
        if (command.data.nonceDigest !== challenge.nonceDigest) return failed('nonce-mismatch');
        return [
          decided(IdentityVerified, {
            deviceId,
            challengeId,
            nonceDigest: challenge.nonceDigest,
            enrolmentKeyDigest: enrolled.identity.enrolmentKeyDigest,
            ...(command.data.firmwareMeasurement ? { firmwareMeasurement: command.data.firmwareMeasurement } : {}),
          }),
        ];
      }
      case 'RecordVerificationFailure': {
        // Only against the challenge it names, once per reason: an attacker cannot grow the log at will.
        if (!isEnrolled(state) || state.challenge?.challengeId !== command.data.challengeId) return [];
        if (state.challenge.failures.includes(command.data.reason)) return [];
        return [
          decided(IdentityVerificationFailed, {
            deviceId,
            challengeId: command.data.challengeId,
            nonceDigest: state.challenge.nonceDigest,
            reason: command.data.reason,
          }),
        ];
      }
      case 'RecordCertificate': {
        const enrolled = requireEnrolled(state, deviceId);
        if (enrolled.certificate?.serialNumber === command.data.serialNumber) return [];
        return [decided(DeviceCertified, command.data)];
      }
      case 'TransferDevice': {
        const enrolled = requireEnrolled(state, deviceId);
        const { transferId, ownerEpoch } = command.data;
        // The same transfer again (a retry): recorded already.
        if (enrolled.custodyChain?.some((entry) => entry.transferId === transferId)) return [];
        if ((enrolled.ownerEpoch ?? 0) + 1 !== ownerEpoch) {
          throw refused(
            'stale-custody-record',
            `device ${deviceId} is at owner epoch ${enrolled.ownerEpoch ?? 0}: a custody record for epoch ${ownerEpoch} does not apply`,
            { deviceId, transferId },
          );
        }
        return [decided(OwnershipTransferCompleted, command.data)];
      }
      default: {
        const unknown: never = command;
        throw new TypeError(`unknown device command ${String((unknown as { type?: unknown }).type)}`);
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'DeviceAnnounced': {
        if (state.status !== 'Unknown') return state;
        const { deviceId, enrolmentPublicKey, enrolmentKeyDigest, firmwareMeasurement } = event.data;
        return {
          status: 'Announced',
          identity: { deviceId, enrolmentPublicKey, enrolmentKeyDigest, firmwareMeasurement },
          announcedAt: event.occurredAt,
        };
      }
      case 'DeviceIdentityImported':
      case 'EnrolmentKeyReported': {
        const { deviceId, enrolmentPublicKey, enrolmentKeyDigest, batchId } = event.data;
        const firmwareMeasurement =
          'firmwareMeasurement' in event.data ? event.data.firmwareMeasurement : identityOf(state)?.firmwareMeasurement;
        const membership: BatchMembership =
          event.type === 'DeviceIdentityImported'
            ? {
                batchId,
                source: event.data.source,
                importId: event.data.importId,
                joinedAt: event.occurredAt,
                ...(event.data.metadata ? { metadata: event.data.metadata } : {}),
              }
            : { batchId, source: 'device-report', requestId: event.data.requestId, joinedAt: event.occurredAt };
        return {
          status: 'Imported',
          identity: {
            deviceId,
            enrolmentPublicKey,
            enrolmentKeyDigest,
            ...(firmwareMeasurement ? { firmwareMeasurement } : {}),
          },
          membership,
        };
      }
      case 'IdentityChallengeIssued': {
        if (!isEnrolled(state)) return state;
        const { challengeId, nonceDigest, expiresAt } = event.data;
        return {
          ...state,
          challenge: { challengeId, nonceDigest, expiresAt, issuedAt: event.occurredAt, failures: [] },
        };
      }
      case 'IdentityVerified': {
        if (!isEnrolled(state)) return state;
        const { firmwareMeasurement } = event.data;
        const identity = firmwareMeasurement ? { ...state.identity, firmwareMeasurement } : state.identity;
        const next = { ...state, identity, challenge: undefined, verifiedAt: event.occurredAt };
        // Re-verifying a certified device keeps it certified; a transferred one is verified afresh.
        return next.status === 'Imported' || next.status === 'Transferred' ? { ...next, status: 'Verified' } : next;
      }
      case 'IdentityVerificationFailed': {
        if (!isEnrolled(state)) return state;
        const { challengeId, reason } = event.data;
        const lastFailure = { challengeId, reason, at: event.occurredAt };
        let challenge = state.challenge;
        if (challenge?.challengeId === challengeId) {
          challenge = challengeClosingFailures.includes(reason)
            ? undefined
            : { ...challenge, failures: [...challenge.failures, reason] };
        }
        return { ...state, challenge, lastFailure };
      }
      case 'DeviceCertified': {
        if (!isEnrolled(state)) return state;
        const { authorityId, serialNumber, fingerprintSha256, notAfter } = event.data;
        const certificate = { authorityId, serialNumber, fingerprintSha256, notAfter, certifiedAt: event.occurredAt };
        // Another certificate than the one held (a renewal): the one it replaces is kept as the previous one.
        const replaced =
          state.certificate && state.certificate.serialNumber !== serialNumber ? state.certificate : undefined;
        const previous = replaced ? { previousCertificate: replaced } : {};
        if (state.status === 'Onboarded') return { ...state, certificate, ...previous };
        return { ...state, status: 'Certified', certificate, ...previous };
      }
      case 'DeviceRevoked': {
        const { revocationId, reason, revokedAt } = event.data;
        const identity = identityOf(state);
        const membership = isEnrolled(state)
          ? state.membership
          : state.status === 'Revoked'
            ? state.membership
            : undefined;
        return {
          status: 'Revoked',
          ...(identity ? { identity } : {}),
          ...(membership ? { membership } : {}),
          revocation: { revocationId, reason, revokedAt },
        };
      }
      case 'OwnershipTransferCompleted': {
        if (!isEnrolled(state)) return state;
        const { transferId, ownerId, fromOwnerId, ownerEpoch, batchId, custody } = event.data;
        const membership = batchId ? { ...state.membership, batchId, joinedAt: event.occurredAt } : state.membership;
        const entry: CustodyEntry = {
          transferId,
          toOwnerId: ownerId,
          ownerEpoch,
          transferredAt: event.occurredAt,
          ...(fromOwnerId ? { fromOwnerId } : {}),
          ...(batchId ? { toBatchId: batchId } : {}),
          ...(custody ? { custody } : {}),
        };
        // The old owner's certificate is revoked (the CA reacts): kept as the previous one, none
        // current; the device is challenged and certified again under the new epoch.
        const {
          certificate,
          challenge: _challenge,
          verifiedAt: _verifiedAt,
          lastFailure: _lastFailure,
          ...rest
        } = state;
        return {
          ...rest,
          ...(certificate ? { previousCertificate: certificate } : {}),
          membership,
          status: 'Transferred',
          transfer: { transferId, ownerId, ownerEpoch },
          ownerEpoch,
          custodyChain: [...(state.custodyChain ?? []), entry],
        };
      }
      case 'OwnershipTransferRequested':
      case 'IntegrityAlertRaised':
        return state; // facts for other readers; the device's lifecycle status does not change
      default: {
        const unknown: never = event;
        return unknown;
      }
    }
  },
};

/** True when the device must join the batch now; false when it already belongs to it (a retry). */
function joinBatch(state: DeviceState, deviceId: string, batchId: string, enrolmentKeyDigest: string): boolean {
  refuseRevoked(state, deviceId);
  requireSameKey(state, enrolmentKeyDigest);
  if (!isEnrolled(state)) return true;
  if (state.membership.batchId !== batchId) {
    throw refused('in-other-batch', `device ${deviceId} belongs to another batch`, { deviceId, batchId });
  }
  return false;
}

function refuseRevoked(state: DeviceState, deviceId: string): void {
  if (state.status === 'Revoked') throw refused('device-revoked', `device ${deviceId} is revoked`, { deviceId });
}

function requireSameKey(state: DeviceState, enrolmentKeyDigest: string): void {
  const identity = identityOf(state);
  if (identity && identity.enrolmentKeyDigest !== enrolmentKeyDigest) {
    throw refused('key-conflict', `device ${identity.deviceId} is known with another enrolment key`, {
      deviceId: identity.deviceId,
    });
  }
}

function requireEnrolled(state: DeviceState, deviceId: string): EnrolledState {
  refuseRevoked(state, deviceId);
  if (state.status === 'Unknown') throw refused('unknown-device', `device ${deviceId} is unknown`, { deviceId });
  if (!isEnrolled(state)) throw refused('not-imported', `device ${deviceId} is in no batch yet`, { deviceId });
  return state;
}
