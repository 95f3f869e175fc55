import type { EventEnvelope } from '@tunnelkey/contracts';
import type { RecordedEvent } from '@tunnelkey/eventstore';
import type { JsonValue, StoredProjection, UpsertWrite, Write } from '@tunnelkey/projection-store';
import { linkId, prefixesOf, type MilestoneAt, type MilestoneFlag } from './fleet-documents.js';

export const fleetProjectionName = 'fleet';
export const devicesCollection = 'devices';
export const linksCollection = 'links';
export const batchesCollection = 'batches';

type Data = Record<string, unknown>;
const str = (data: Data, key: string) => data[key] as string;

/** JSON for the store: fields whose value is undefined are left out (at any depth). */
export function json(value: unknown): JsonValue {
  if (Array.isArray(value)) return value.map(json);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Data)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, json(v)]),
    );
  }
  return value as JsonValue;
}

const fields = (set: Data): Record<string, JsonValue> => json(set) as Record<string, JsonValue>;

/** A write to a device document: its id fields, the source's update time and `set`. */
function device(event: EventEnvelope, source: 'registry' | 'ca' | 'onboarding', set: Data): UpsertWrite {
  const deviceId = str(event.data as Data, 'deviceId');
  return {
    type: 'upsert',
    collection: devicesCollection,
    id: deviceId,
    set: fields({ deviceId, idPrefixes: prefixesOf(deviceId), [`${source}UpdatedAt`]: event.occurredAt, ...set }),
  };
}

const reached = (flag: MilestoneFlag, at: MilestoneAt, event: EventEnvelope): Data => ({
  [flag]: true,
  [at]: event.occurredAt,
});

/** One target's link of a device, and the device's own connection/telemetry facts when given. */
function link(event: EventEnvelope, set: Data, onDevice: Data = {}): Write[] {
  const data = event.data as Data;
  const deviceId = str(data, 'deviceId');
  const targetId = str(data, 'targetId');
  return [
    {
      type: 'upsert',
      collection: linksCollection,
      id: linkId(deviceId, targetId),
      set: fields({ deviceId, targetId, idPrefixes: prefixesOf(deviceId), ...set }),
    },
    device(event, 'onboarding', onDevice),
  ];
}

function identityOf(data: Data) {
  return {
    enrolmentKeyDigest: data.enrolmentKeyDigest,
    enrolmentPublicKey: data.enrolmentPublicKey,
    firmwareMeasurement: data.firmwareMeasurement,
  };
}

/**
 * Devices, their links to targets and batches, fed by registry, ca and onboarding. Pure: each event
 * becomes writes of its own facts (see fleet.views.ts for why nothing reads a previous document).
 * A batch's counts per state, connected devices and failures are counted from the devices.
 */
export const fleetProjection: StoredProjection = {
  name: fleetProjectionName,
  collections: {
    devices: {
      // Every filter of GET /api/devices, alone or with batchId, sorted by listedSeq; the state
      // flags are grouped by batch for the batch counts.
      indexes: [
        'listedSeq',
        'idPrefixes',
        ['batchId', 'listedSeq'],
        [
          'batchId',
          'reachedRevoked',
          'reachedTransferred',
          'reachedOnboarded',
          'reachedCertified',
          'reachedVerified',
          'reachedImported',
          'listedSeq',
        ],
        [
          'reachedRevoked',
          'reachedTransferred',
          'reachedOnboarded',
          'reachedCertified',
          'reachedVerified',
          'reachedImported',
          'listedSeq',
        ],
        ['connection', 'listedSeq'],
        ['batchId', 'connection', 'listedSeq'],
        ['batchId', 'verificationFailed'],
        ['batchId', 'certificateRejected'],
        // The devices of a renewal operation: whose they are (GET /api/renewals/{operationId}/progress).
        'renewalOperationId',
        // The list's sort fields (GET /api/devices?sort=...) beside id, batchId, connection and the flags.
        'importedAt',
        'certifiedAt',
        'connectedAt',
        'lastTelemetryAt',
        'certificateNotAfter',
      ],
    },
    links: {
      indexes: [
        'deviceId',
        ['targetId', 'status'],
        ['targetId', 'connected'],
        ['targetId', 'batchId'],
        ['targetId', 'connection'],
        ['targetId', 'idPrefixes'],
      ],
    },
    batches: { indexes: ['createdAt', ['ownerId', 'createdAt']] },
  },
  sources: [{ context: 'registry' }, { context: 'ca' }, { context: 'onboarding' }],
  evolve({ event, sequence }: RecordedEvent): Write[] {
    const data = event.data as Data;
    switch (event.type) {
      case 'BatchCreated':
        return [
          {
            type: 'upsert',
            collection: batchesCollection,
            id: str(data, 'batchId'),
            set: fields({
              batchId: data.batchId,
              name: data.name,
              policyId: data.policyId,
              ownerId: data.ownerId,
              expectedSize: data.expectedSize,
              createdAt: event.occurredAt,
              updatedAt: event.occurredAt,
              metadata: data.metadata,
            }),
            inc: { imports: 0, rejectedRows: 0 },
          },
        ];
      case 'IdentitiesImported':
        return [
          {
            type: 'upsert',
            collection: batchesCollection,
            id: str(data, 'batchId'),
            set: { updatedAt: event.occurredAt },
            inc: { imports: 1, rejectedRows: data.rejected as number },
          },
        ];
      case 'DeviceAnnounced':
        return [
          device(event, 'registry', { listedSeq: sequence, announcedAt: event.occurredAt, identity: identityOf(data) }),
        ];
      case 'DeviceIdentityImported':
      case 'EnrolmentKeyReported':
        return [
          device(event, 'registry', {
            listedSeq: sequence,
            batchId: data.batchId,
            ...reached('reachedImported', 'importedAt', event),
            identity: {
              ...identityOf(data),
              source: data.source ?? 'device-report',
              importId: data.importId,
              metadata: data.metadata,
            },
          }),
        ];
      case 'IdentityVerified':
        return [device(event, 'registry', reached('reachedVerified', 'verifiedAt', event))];
      case 'IdentityVerificationFailed':
        return [
          device(event, 'registry', {
            verificationFailed: true,
            verificationFailure: { reason: data.reason, at: event.occurredAt },
          }),
        ];
      case 'DeviceCertified':
        return [device(event, 'registry', reached('reachedCertified', 'certifiedAt', event))];
      case 'DeviceRevoked':
        return [
          device(event, 'registry', {
            ...reached('reachedRevoked', 'revokedAt', event),
            revocation: { revocationId: data.revocationId, reason: data.reason, revokedAt: data.revokedAt },
          }),
        ];
      case 'OwnershipTransferCompleted':
        // A new owner, a new start: the registry's milestones of the old owner's era are unset (the
        // new owner verifies and certifies it again); onboarding unsets its own on the cut-off.
        return [
          {
            ...device(event, 'registry', {
              ...reached('reachedTransferred', 'transferredAt', event),
              batchId: data.batchId,
              ownerEpoch: data.ownerEpoch,
              lastTransfer: {
                transferId: data.transferId,
                fromOwnerId: data.fromOwnerId,
                toOwnerId: data.ownerId,
                ownerEpoch: data.ownerEpoch,
                transferredAt: event.occurredAt,
              },
            }),
            unset: [
              'reachedVerified',
              'verifiedAt',
              'reachedCertified',
              'certifiedAt',
              'verificationFailed',
              'verificationFailure',
            ],
          },
        ];
      case 'CertificateIssued':
        return [
          device(event, 'ca', {
            certificate: {
              authorityId: data.authorityId,
              serialNumber: data.serialNumber,
              subject: data.subject,
              issuer: data.issuer,
              notBefore: data.notBefore,
              notAfter: data.notAfter,
              fingerprintSha256: data.fingerprintSha256,
              keyId: data.keyId,
              certificatePem: data.certificatePem,
              chainPem: data.chainPem,
              issuedAt: event.occurredAt,
            },
            certificateNotAfter: data.notAfter,
          }),
        ];
      case 'CertificateRenewalRequested':
        return [
          device(event, 'ca', {
            renewal: {
              renewalId: data.renewalId,
              operationId: data.operationId,
              reason: data.reason,
              requestedAt: event.occurredAt,
            },
            renewalOperationId: data.operationId,
            renewalStatus: 'requested',
            renewalStatusAt: event.occurredAt,
          }),
        ];
      case 'DeviceCertificateRenewed':
        return [
          {
            ...device(event, 'ca', {
              previousCertificate: data.previous,
              renewalStatus: 'renewed',
              renewalStatusAt: event.occurredAt,
            }),
            // A new previous certificate: not revoked yet (the device has still to switch).
            unset: ['previousCertificateRevokedAt'],
          },
        ];
      case 'CertificateRenewalCompleted':
        return [
          device(event, 'ca', {
            previousCertificateRevokedAt: (data.revokedPrevious as Data).revokedAt,
            renewalStatus: 'completed',
            renewalStatusAt: data.switchedAt,
          }),
        ];
      case 'CertificateRenewalExpired':
        return [device(event, 'ca', { renewalStatus: 'expired', renewalStatusAt: event.occurredAt })];
      case 'CertificateRejected':
        return [
          device(event, 'ca', {
            certificateRejected: true,
            certificateRejection: { reason: data.reason, at: event.occurredAt },
          }),
        ];
      case 'DeviceOnboarded':
        return link(
          event,
          {
            batchId: data.batchId,
            status: 'onboarded',
            onboardedAt: event.occurredAt,
            clientId: data.clientId,
            topicPrefix: data.topicPrefix,
          },
          reached('reachedOnboarded', 'onboardedAt', event),
        );
      case 'DeviceOnboardingFailed':
        return link(event, { status: 'failed', failure: { reason: data.reason, at: event.occurredAt } });
      case 'DeviceDeprovisioned': {
        const written = link(event, { status: 'deprovisioned' });
        if (data.reason !== 'ownership-transferred') return written;
        // Cut off its old owner's targets: none of that era's onboarding, connections or telemetry
        // stays on the device or its link (the log and a platform admin's history keep them).
        const [linkWrite, deviceWrite] = written as [UpsertWrite, UpsertWrite];
        return [
          {
            ...linkWrite,
            unset: [
              'telemetry',
              'connected',
              'connection',
              'connectedAt',
              'disconnectedAt',
              'disconnectReason',
              'tlsProtocol',
              'cipher',
            ],
          },
          { ...deviceWrite, unset: ['reachedOnboarded', 'onboardedAt', 'connection', 'lastTelemetryAt'] },
        ];
      }
      // A second DeviceConnected sets what the first set: nothing is counted here.
      case 'DeviceConnected':
        return link(
          event,
          {
            connected: true,
            connection: 'connected',
            connectedAt: data.connectedAt,
            tlsProtocol: data.tlsProtocol,
            cipher: data.cipher,
          },
          { connection: 'connected', connectedAt: data.connectedAt },
        );
      case 'DeviceDisconnected':
        return link(
          event,
          {
            connected: false,
            connection: 'disconnected',
            disconnectedAt: data.disconnectedAt,
            disconnectReason: data.reason,
          },
          { connection: 'disconnected' },
        );
      case 'TelemetryReceived':
        return link(
          event,
          {
            telemetry: {
              messagesTotal: data.messagesTotal,
              bytesTotal: data.bytesTotal,
              firstMessageAt: data.firstMessageAt,
              lastMessageAt: data.lastMessageAt,
              lastTopic: data.lastTopic,
            },
          },
          { lastTelemetryAt: data.lastMessageAt },
        );
      default:
        return [];
    }
  },
};
