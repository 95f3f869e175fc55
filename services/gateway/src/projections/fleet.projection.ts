import type { EventEnvelope } from '@tunnelkey/contracts';
import type { DocumentLookup, GatewayProjection, ProjectionWrite } from '../read-model/projection.js';
import type { BatchDocument, ConnectionState, DeviceDocument, DeviceStateName, TargetLink } from './fleet.views.js';

export const devicesCollection = 'devices';
export const batchesCollection = 'batches';

/**
 * How far along a device is. Events of three contexts arrive on three subscriptions, so an
 * onboarding fact may be applied before the registry's certification of the same device: a state
 * only ever moves forward, and Revoked is final.
 */
const rank: Record<DeviceStateName, number> = { Announced: 0, Imported: 1, Verified: 2, Certified: 3, Onboarded: 4, Transferred: 5, Revoked: 9 };

type Data = Record<string, unknown> & { deviceId: string };
const str = (data: Record<string, unknown>, key: string) => data[key] as string;

/**
 * Devices and batches: one projection because a batch's counts per state move with its devices'
 * transitions, which it must see in the same order as the devices themselves.
 */
export const fleetProjection: GatewayProjection = {
  name: 'fleet',
  contexts: ['registry', 'ca', 'onboarding'],
  collections: [devicesCollection, batchesCollection],
  project(event, _position, lookup) {
    const data = event.data as Record<string, unknown>;
    switch (event.type) {
      case 'BatchCreated':
        return [
          {
            collection: batchesCollection,
            id: str(data, 'batchId'),
            set: {
              batchId: data.batchId,
              name: data.name,
              policyId: data.policyId,
              ownerId: data.ownerId,
              expectedSize: data.expectedSize,
              createdAt: event.occurredAt,
              updatedAt: event.occurredAt,
              ...(data.metadata ? { metadata: data.metadata } : {}),
            },
            inc: { devices: 0, connected: 0, verificationFailures: 0, certificateRejections: 0, imports: 0, rejectedRows: 0 },
          },
        ];
      case 'IdentitiesImported':
        return [{ collection: batchesCollection, id: str(data, 'batchId'), set: { updatedAt: event.occurredAt }, inc: { imports: 1, rejectedRows: data.rejected as number } }];
      case 'DeviceAnnounced':
        return deviceUpdate(event, lookup, 'Announced', { identity: identityOf(data) });
      case 'DeviceIdentityImported':
      case 'EnrolmentKeyReported':
        return deviceUpdate(event, lookup, 'Imported', {
          batchId: data.batchId,
          identity: { ...identityOf(data), source: data.source ?? 'device-report', ...(data.importId ? { importId: data.importId } : {}), ...(data.metadata ? { metadata: data.metadata } : {}) },
        });
      case 'IdentityVerified':
        return deviceUpdate(event, lookup, 'Verified', { verifiedAt: event.occurredAt });
      case 'IdentityVerificationFailed':
        return withBatchCounter(deviceUpdate(event, lookup, undefined, { verificationFailure: { reason: data.reason, at: event.occurredAt } }), event, lookup, 'verificationFailures');
      case 'CertificateIssued':
        return deviceUpdate(event, lookup, undefined, {
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
        });
      case 'CertificateRejected':
        return withBatchCounter(deviceUpdate(event, lookup, undefined, { certificateRejection: { reason: data.reason, at: event.occurredAt } }), event, lookup, 'certificateRejections');
      case 'DeviceCertified':
        return deviceUpdate(event, lookup, 'Certified', {});
      case 'DeviceRevoked':
        return deviceUpdate(event, lookup, 'Revoked', { revocation: { revocationId: data.revocationId, reason: data.reason, revokedAt: data.revokedAt } });
      case 'OwnershipTransferCompleted':
        return deviceUpdate(event, lookup, 'Transferred', {});
      case 'DeviceOnboarded':
        return targetUpdate(event, lookup, 'Onboarded', { status: 'onboarded', onboardedAt: event.occurredAt, clientId: data.clientId, topicPrefix: data.topicPrefix });
      case 'DeviceOnboardingFailed':
        return targetUpdate(event, lookup, undefined, { status: 'failed', failure: { reason: data.reason, at: event.occurredAt } });
      case 'DeviceDeprovisioned':
        return targetUpdate(event, lookup, undefined, { status: 'deprovisioned' });
      case 'DeviceConnected':
        return targetUpdate(event, lookup, undefined, { connected: true, connectedAt: data.connectedAt, tlsProtocol: data.tlsProtocol, cipher: data.cipher });
      case 'DeviceDisconnected':
        return targetUpdate(event, lookup, undefined, { connected: false, disconnectedAt: data.disconnectedAt, disconnectReason: data.reason });
      case 'TelemetryReceived':
        return targetUpdate(event, lookup, undefined, {
          telemetry: { messagesTotal: data.messagesTotal, bytesTotal: data.bytesTotal, firstMessageAt: data.firstMessageAt, lastMessageAt: data.lastMessageAt, lastTopic: data.lastTopic },
        });
      default:
        return [];
    }
  },
};

function identityOf(data: Record<string, unknown>) {
  return {
    enrolmentKeyDigest: data.enrolmentKeyDigest,
    enrolmentPublicKey: data.enrolmentPublicKey,
    ...(data.firmwareMeasurement ? { firmwareMeasurement: data.firmwareMeasurement } : {}),
  };
}

/** The device's new fields, its state if it moves forward, and the batch counters that move with it. */
function deviceUpdate(event: EventEnvelope, lookup: DocumentLookup, state: DeviceStateName | undefined, fields: Record<string, unknown>): ProjectionWrite[] {
  const deviceId = (event.data as Data).deviceId;
  const before = lookup<DeviceDocument>(devicesCollection, deviceId);
  const set: Record<string, unknown> = { deviceId, updatedAt: event.occurredAt, ...fields };
  if (!before) Object.assign(set, { state: state ?? 'Announced', stateChangedAt: event.occurredAt, connection: 'never', messagesTotal: 0 });
  const writes: ProjectionWrite[] = [{ collection: devicesCollection, id: deviceId, set }];
  const previousBatch = before?.batchId;
  const batchId = (fields.batchId as string | undefined) ?? previousBatch;
  const from = before?.state;
  const to = state && (!from || (from !== 'Revoked' && rank[state] > rank[from])) ? state : from ?? state ?? 'Announced';
  if (before && to !== from) Object.assign(set, { state: to, stateChangedAt: event.occurredAt });
  // A device joins a batch once: counters move from "no batch" to its batch.
  if (batchId && batchId !== previousBatch) {
    if (previousBatch) writes.push(batchInc(previousBatch, event, { devices: -1, ...(from ? { [`counts.${from}`]: -1 } : {}), ...(before?.connection === 'connected' ? { connected: -1 } : {}) }));
    writes.push(batchInc(batchId, event, { devices: 1, [`counts.${to}`]: 1, ...(before?.connection === 'connected' ? { connected: 1 } : {}) }));
  } else if (batchId && from && to !== from) {
    writes.push(batchInc(batchId, event, { [`counts.${from}`]: -1, [`counts.${to}`]: 1 }));
  }
  return writes;
}

function batchInc(batchId: string, event: EventEnvelope, inc: Record<string, number>): ProjectionWrite {
  return { collection: batchesCollection, id: batchId, set: { updatedAt: event.occurredAt }, inc };
}

function withBatchCounter(writes: ProjectionWrite[], event: EventEnvelope, lookup: DocumentLookup, counter: keyof BatchDocument): ProjectionWrite[] {
  const batchId = lookup<DeviceDocument>(devicesCollection, (event.data as Data).deviceId)?.batchId;
  return batchId ? [...writes, batchInc(batchId, event, { [counter]: 1 })] : writes;
}

/** One target's link of a device; the device's connection and message totals are derived over all its targets. */
function targetUpdate(event: EventEnvelope, lookup: DocumentLookup, state: DeviceStateName | undefined, link: Record<string, unknown>): ProjectionWrite[] {
  const data = event.data as Data;
  const targetId = str(data, 'targetId');
  const before = lookup<DeviceDocument>(devicesCollection, data.deviceId);
  const targets: Record<string, TargetLink> = { ...(before?.targets ?? {}) };
  const merged = { connected: false, status: 'onboarded', ...targets[targetId], ...link } as TargetLink;
  targets[targetId] = merged;
  const links = Object.values(targets);
  const connection: ConnectionState = links.some((l) => l.connected) ? 'connected' : links.some((l) => l.connectedAt) ? 'disconnected' : 'never';
  const messagesTotal = links.reduce((sum, l) => sum + (l.telemetry?.messagesTotal ?? 0), 0);
  const lastTelemetryAt = links.map((l) => l.telemetry?.lastMessageAt).filter((at): at is string => !!at).sort().at(-1);
  const writes = deviceUpdate(event, lookup, state, {
    [`targets.${targetId}`]: merged,
    connection,
    messagesTotal,
    ...(lastTelemetryAt ? { lastTelemetryAt } : {}),
  });
  const batchId = before?.batchId;
  const wasConnected = before?.connection === 'connected';
  if (batchId && wasConnected !== (connection === 'connected')) writes.push(batchInc(batchId, event, { connected: connection === 'connected' ? 1 : -1 }));
  return writes;
}
