import { X509Certificate } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { NotFound } from '../../errors.js';
import type { ProjectionDocument, ProjectionStore } from '@tunnelkey/projection-store';
import { devicesCollection, fleetProjectionName, linksCollection } from '../../views/fleet.view.js';
import {
  connectionOf,
  stateChangedAtOf,
  stateOf,
  updatedAtOf,
  type ConnectionState,
  type DeviceDocument,
  type DeviceStateName,
  type LinkDocument,
  type TargetLink,
} from '../../views/fleet-documents.js';

export interface ChainEntry {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  fingerprintSha256: string;
}

export interface DeviceDetail {
  deviceId: string;
  batchId?: string;
  state: DeviceStateName;
  stateChangedAt: string;
  identity?: DeviceDocument['identity'];
  verifiedAt?: string;
  verificationFailure?: DeviceDocument['verificationFailure'];
  certificate?: {
    subject: string;
    issuer: string;
    serialNumber: string;
    notBefore: string;
    notAfter: string;
    fingerprintSha256: string;
    authorityId: string;
    keyId: string;
    issuedAt: string;
    certificatePem: string;
    /** Issuing CA first, up to the root. */
    chain: ChainEntry[];
  };
  certificateRejection?: DeviceDocument['certificateRejection'];
  targets: (TargetLink & { targetId: string })[];
  connection: ConnectionState;
  telemetry: { messagesTotal: number; lastMessageAt?: string; lastTopic?: string };
  revocation?: DeviceDocument['revocation'];
  /** The certificate the last renewal replaced, and when it was revoked (once the device switched). */
  previousCertificate?: NonNullable<DeviceDocument['previousCertificate']> & { revokedAt?: string };
  /** The last renewal: why, when, how far. */
  renewal?: NonNullable<DeviceDocument['renewal']> & { status: string; statusAt?: string };
  /** Its owner epoch (absent: 0) and last ownership transfer; the custody chain is in its history. */
  ownerEpoch?: number;
  lastTransfer?: DeviceDocument['lastTransfer'];
  updatedAt: string;
}

const Timestamp = Type.String({ format: 'date-time' });
const ChainEntrySchema = Type.Object({
  subject: Type.String(),
  issuer: Type.String(),
  serialNumber: Type.String(),
  notBefore: Timestamp,
  notAfter: Timestamp,
  fingerprintSha256: Type.String(),
});

export const DeviceDetailSchema = Type.Object(
  {
    deviceId: Type.String(),
    batchId: Type.Optional(Type.String()),
    state: Type.String(),
    stateChangedAt: Timestamp,
    identity: Type.Optional(
      Type.Object(
        { enrolmentKeyDigest: Type.String(), enrolmentPublicKey: Type.String() },
        { additionalProperties: true },
      ),
    ),
    certificate: Type.Optional(
      Type.Object({
        subject: Type.String(),
        issuer: Type.String(),
        serialNumber: Type.String(),
        notBefore: Timestamp,
        notAfter: Timestamp,
        fingerprintSha256: Type.String({ description: 'SHA-256 of the certificate DER, lowercase hex' }),
        authorityId: Type.String(),
        keyId: Type.String(),
        issuedAt: Timestamp,
        certificatePem: Type.String(),
        chain: Type.Array(ChainEntrySchema),
      }),
    ),
    targets: Type.Array(
      Type.Object(
        { targetId: Type.String(), status: Type.String(), connected: Type.Boolean() },
        { additionalProperties: true },
      ),
    ),
    connection: Type.String(),
    telemetry: Type.Object({
      messagesTotal: Type.Integer(),
      lastMessageAt: Type.Optional(Timestamp),
      lastTopic: Type.Optional(Type.String()),
    }),
    revocation: Type.Optional(
      Type.Object({ revocationId: Type.String(), reason: Type.String(), revokedAt: Timestamp }),
    ),
    previousCertificate: Type.Optional(
      Type.Object({
        authorityId: Type.String(),
        serialNumber: Type.String(),
        keyId: Type.String(),
        notAfter: Timestamp,
        revokedAt: Type.Optional(Timestamp),
      }),
    ),
    renewal: Type.Optional(
      Type.Object({
        renewalId: Type.String(),
        operationId: Type.String(),
        reason: Type.String({ description: 'scheduled | operator | key-exposure' }),
        requestedAt: Timestamp,
        status: Type.String({ description: 'requested | renewed | completed | expired' }),
        statusAt: Type.Optional(Timestamp),
      }),
    ),
    ownerEpoch: Type.Optional(Type.Integer({ minimum: 1 })),
    lastTransfer: Type.Optional(
      Type.Object({
        transferId: Type.String(),
        fromOwnerId: Type.Optional(Type.String()),
        toOwnerId: Type.String(),
        ownerEpoch: Type.Integer(),
        transferredAt: Timestamp,
      }),
    ),
  },
  { additionalProperties: true },
);

// Every device of an owner shares one chain: parse it once.
const chainCache = new Map<string, ChainEntry[]>();

function chainOf(pems: readonly string[]): ChainEntry[] {
  const key = pems.join('');
  let chain = chainCache.get(key);
  if (!chain) {
    chain = pems.map((pem) => {
      const cert = new X509Certificate(pem);
      return {
        subject: cert.subject.replace(/\n/g, ', '),
        issuer: cert.issuer.replace(/\n/g, ', '),
        serialNumber: cert.serialNumber.toLowerCase(),
        notBefore: new Date(cert.validFrom).toISOString(),
        notAfter: new Date(cert.validTo).toISOString(),
        fingerprintSha256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
      };
    });
    if (chainCache.size > 1000) chainCache.clear();
    chainCache.set(key, chain);
  }
  return chain;
}

/** A device's links to its targets, as the detail and the list show them. */
export async function targetsOf(
  store: ProjectionStore,
  deviceId: string,
): Promise<(TargetLink & { targetId: string })[]> {
  const links = await store.find<LinkDocument & ProjectionDocument>(fleetProjectionName, linksCollection, {
    where: { deviceId },
    limit: 1_000,
  });
  return links.items.map(({ id: _id, deviceId: _d, batchId: _b, idPrefixes: _p, connection: _c, ...link }) => ({
    ...link,
    status: link.status ?? 'onboarded',
    connected: link.connected ?? false,
  }));
}

/** Who reads a detail: an owner sees a transferred device's facts on its own targets only. */
export interface DetailViewer {
  ownerId: string;
  targetOwnerOf: (targetIds: readonly string[]) => Promise<Map<string, string | undefined>>;
}

/**
 * `viewer`: an owner's view: the device's links to that owner's targets only (an old owner's
 * broker, its connections and telemetry are not the new owner's to see: owners/owner-era.ts), its
 * connection from those. Absent: every link (a platform admin).
 */
export async function deviceDetail(
  store: ProjectionStore,
  deviceId: string,
  viewer?: DetailViewer,
): Promise<DeviceDetail> {
  const [device, links] = await Promise.all([
    store.get<DeviceDocument & ProjectionDocument>(fleetProjectionName, devicesCollection, deviceId),
    targetsOf(store, deviceId),
  ]);
  if (!device) throw new NotFound(`device ${deviceId} is not known`);
  let targets = links;
  if (viewer && device.lastTransfer) {
    const owners = await viewer.targetOwnerOf(links.map((link) => link.targetId));
    targets = links.filter((link) => owners.get(link.targetId) === viewer.ownerId);
  }
  const connection: ConnectionState =
    targets === links
      ? connectionOf(device)
      : targets.some((t) => t.connected)
        ? 'connected'
        : targets.some((t) => t.connectedAt)
          ? 'disconnected'
          : 'never';
  const last = targets
    .map((t) => t.telemetry)
    .filter((t) => t !== undefined)
    .sort((a, b) => a.lastMessageAt.localeCompare(b.lastMessageAt))
    .at(-1);
  const messagesTotal = targets.reduce((sum, t) => sum + (t.telemetry?.messagesTotal ?? 0), 0);
  const { certificate: cert } = device;
  return {
    deviceId: device.deviceId,
    ...(device.batchId ? { batchId: device.batchId } : {}),
    state: stateOf(device),
    stateChangedAt: stateChangedAtOf(device),
    ...(device.identity ? { identity: device.identity } : {}),
    ...(device.verifiedAt ? { verifiedAt: device.verifiedAt } : {}),
    ...(device.verificationFailure ? { verificationFailure: device.verificationFailure } : {}),
    ...(cert
      ? {
          certificate: {
            subject: cert.subject,
            issuer: cert.issuer,
            serialNumber: cert.serialNumber,
            notBefore: cert.notBefore,
            notAfter: cert.notAfter,
            fingerprintSha256: cert.fingerprintSha256,
            authorityId: cert.authorityId,
            keyId: cert.keyId,
            issuedAt: cert.issuedAt,
            certificatePem: cert.certificatePem,
            chain: chainOf(cert.chainPem),
          },
        }
      : {}),
    ...(device.certificateRejection ? { certificateRejection: device.certificateRejection } : {}),
    targets,
    connection,
    ...(device.ownerEpoch ? { ownerEpoch: device.ownerEpoch } : {}),
    ...(device.lastTransfer ? { lastTransfer: device.lastTransfer } : {}),
    telemetry: { messagesTotal, ...(last ? { lastMessageAt: last.lastMessageAt, lastTopic: last.lastTopic } : {}) },
    ...(device.revocation ? { revocation: device.revocation } : {}),
    ...(device.previousCertificate
      ? {
          previousCertificate: {
            ...device.previousCertificate,
            ...(device.previousCertificateRevokedAt ? { revokedAt: device.previousCertificateRevokedAt } : {}),
          },
        }
      : {}),
    ...(device.renewal
      ? {
          renewal: {
            ...device.renewal,
            status: device.renewalStatus ?? 'requested',
            ...(device.renewalStatusAt ? { statusAt: device.renewalStatusAt } : {}),
          },
        }
      : {}),
    updatedAt: updatedAtOf(device),
  };
}
