/**
 * Documents of the fleet and catalog projections, and what the queries derive from them.
 *
 * Every field is written by events of ONE source (registry, ca or onboarding), never computed from
 * a document's previous content: the three feeds arrive on separate subscriptions (and a rebuild
 * replays them one after the other), so anything that combined them at write time would depend on
 * the order they were applied in. Combined values (a device's state, a batch's counts, a target's
 * connected devices) are derived at query time: a rebuild from the log equals the live state, and a
 * duplicate fact (a second DeviceConnected) cannot inflate a count.
 */

export const deviceStates = [
  'Announced',
  'Imported',
  'Verified',
  'Certified',
  'Onboarded',
  'Transferred',
  'Revoked',
] as const;
export type DeviceStateName = (typeof deviceStates)[number];

export const connectionStates = ['never', 'connected', 'disconnected'] as const;
export type ConnectionState = (typeof connectionStates)[number];

/**
 * How far along a device is: each state it reached leaves a flag (`reachedCertified: true`), never
 * removed (except by an ownership transfer, below). Its state is the highest it reached, so a state only moves forward and Revoked is final,
 * whatever order the facts of three contexts were applied in.
 */
export const milestones = [
  { state: 'Revoked', flag: 'reachedRevoked', at: 'revokedAt' },
  { state: 'Onboarded', flag: 'reachedOnboarded', at: 'onboardedAt' },
  { state: 'Certified', flag: 'reachedCertified', at: 'certifiedAt' },
  { state: 'Verified', flag: 'reachedVerified', at: 'verifiedAt' },
  // Handed to a new owner: the old owner's milestones are unset (a transfer is the one exception
  // to "never removed"), and the new owner's verification, certification and onboarding follow.
  { state: 'Transferred', flag: 'reachedTransferred', at: 'transferredAt' },
  { state: 'Imported', flag: 'reachedImported', at: 'importedAt' },
] as const satisfies readonly { state: DeviceStateName; flag: string; at: string }[];

export type MilestoneFlag = (typeof milestones)[number]['flag'];
export type MilestoneAt = (typeof milestones)[number]['at'];
export const milestoneFlags: readonly MilestoneFlag[] = milestones.map((m) => m.flag);

export interface TargetLink {
  status: 'onboarded' | 'failed' | 'deprovisioned';
  onboardedAt?: string;
  clientId?: string;
  topicPrefix?: string;
  failure?: { reason: string; at: string };
  connected: boolean;
  connectedAt?: string;
  disconnectedAt?: string;
  disconnectReason?: string;
  tlsProtocol?: string;
  cipher?: string;
  telemetry?: {
    messagesTotal: number;
    bytesTotal: number;
    firstMessageAt: string;
    lastMessageAt: string;
    lastTopic: string;
  };
}

/** One device on one target (`<deviceId>/<targetId>`), written by the onboarding feed only. */
export type LinkDocument = Partial<TargetLink> & {
  id: string;
  deviceId: string;
  targetId: string;
  batchId?: string;
  /** Device id prefixes (the list's `q` filter with `targetId`). */
  idPrefixes: string[];
  /** `connected` / `disconnected` on this target; missing: never connected. */
  connection?: 'connected' | 'disconnected';
};

export interface CertificateView {
  authorityId: string;
  serialNumber: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  fingerprintSha256: string;
  keyId: string;
  certificatePem: string;
  chainPem: string[];
  issuedAt: string;
}

/** A device as stored: facts per source; its state, connection and totals are derived (see `stateOf`). */
export type DeviceDocument = { [flag in MilestoneFlag]?: true } & { [at in MilestoneAt]?: string } & {
  id: string;
  deviceId: string;
  /** Every prefix of the id: the list's `q` filter is an equality on an indexed array. */
  idPrefixes: string[];
  batchId?: string;
  /** Registry sequence of the device's announcement or import: the list's order. */
  listedSeq?: number;
  announcedAt?: string;
  identity?: {
    enrolmentKeyDigest: string;
    enrolmentPublicKey: string;
    source?: string;
    importId?: string;
    metadata?: Record<string, string>;
    firmwareMeasurement?: string;
  };
  verificationFailure?: { reason: string; at: string };
  verificationFailed?: true;
  certificate?: CertificateView;
  /** The current certificate's notAfter, top level: the list sorts by it. */
  certificateNotAfter?: string;
  certificateRejection?: { reason: string; at: string };
  certificateRejected?: true;
  revocation?: { revocationId: string; reason: string; revokedAt: string };
  /** Certificate renewal (rotate, then revoke): the last one requested, why, and how far it got. */
  renewal?: { renewalId: string; operationId: string; reason: string; requestedAt: string };
  /** The operation of the last renewal (indexed: an operation's devices, hence its owner). */
  renewalOperationId?: string;
  renewalStatus?: 'requested' | 'renewed' | 'completed' | 'expired';
  renewalStatusAt?: string;
  /** The certificate the last renewal replaced; revoked (superseded) once the device switched. */
  previousCertificate?: { authorityId: string; serialNumber: string; keyId: string; notAfter: string };
  previousCertificateRevokedAt?: string;
  /** The device's latest connection fact over its targets; missing: never connected. */
  connection?: 'connected' | 'disconnected';
  /** When the device last connected, over its targets. */
  connectedAt?: string;
  lastTelemetryAt?: string;
  registryUpdatedAt?: string;
  caUpdatedAt?: string;
  onboardingUpdatedAt?: string;
  /** Its owner epoch (absent: 0) and its last ownership transfer (the whole custody chain is in its history). */
  ownerEpoch?: number;
  lastTransfer?: {
    transferId: string;
    fromOwnerId?: string;
    toOwnerId: string;
    ownerEpoch: number;
    transferredAt: string;
  };
};

export interface BatchDocument {
  id: string;
  batchId: string;
  name: string;
  policyId: string;
  ownerId: string;
  expectedSize: number;
  createdAt: string;
  metadata?: Record<string, string>;
  imports: number;
  rejectedRows: number;
  updatedAt: string;
}

export interface PolicyDocument {
  policyId: string;
  name: string;
  targetIds: string[];
  topicRights: { topic: string; access: string }[];
  certificateLifetimeDays: number;
  ownerId: string;
  definedAt: string;
}

export interface TargetDocument {
  targetId: string;
  kind: string;
  name: string;
  host: string;
  tlsPort: number;
  ownerId: string;
  registeredAt: string;
  trustAnchors?: Record<string, { fingerprintSha256: string; at: string }>;
  crl?: Record<string, { crlNumber: number; at: string }>;
  onboarded: number;
  connected: number;
}

/** The highest state a device reached (Announced when it reached none), from its flags. */
export function stateOf(flags: Partial<Record<MilestoneFlag, unknown>>): DeviceStateName {
  return milestones.find((m) => flags[m.flag] === true)?.state ?? 'Announced';
}

export function stateChangedAtOf(device: DeviceDocument): string {
  const top = milestones.find((m) => device[m.flag] === true);
  return (top && device[top.at]) ?? device.announcedAt ?? updatedAtOf(device);
}

export function updatedAtOf(device: DeviceDocument): string {
  return (
    [device.registryUpdatedAt, device.caUpdatedAt, device.onboardingUpdatedAt]
      .filter((at): at is string => !!at)
      .sort()
      .at(-1) ?? ''
  );
}

export const connectionOf = (doc: { connection?: 'connected' | 'disconnected' }): ConnectionState =>
  doc.connection ?? 'never';

/** The equality filter selecting devices in `state`: its flag set, every higher one missing. */
export function whereState(state: DeviceStateName): Record<string, true | null> {
  const where: Record<string, true | null> = {};
  for (const m of milestones) {
    if (m.state === state) {
      where[m.flag] = true;
      return where;
    }
    where[m.flag] = null;
  }
  return where; // Announced: no flag at all
}

/** The stored value a connection filter matches (`never` is a missing field). */
export const whereConnection = (connection: ConnectionState): 'connected' | 'disconnected' | null =>
  connection === 'never' ? null : connection;

/** Every prefix of an id (ids are at most 128 characters). */
export function prefixesOf(id: string): string[] {
  return Array.from({ length: id.length }, (_, i) => id.slice(0, i + 1));
}

export const linkId = (deviceId: string, targetId: string): string => `${deviceId}/${targetId}`;
