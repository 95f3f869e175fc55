/** Documents of the fleet projection: what the console's batch, device list and device pages show. */

export const deviceStates = ['Announced', 'Imported', 'Verified', 'Certified', 'Onboarded', 'Transferred', 'Revoked'] as const;
export type DeviceStateName = (typeof deviceStates)[number];

export const connectionStates = ['never', 'connected', 'disconnected'] as const;
export type ConnectionState = (typeof connectionStates)[number];

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
  telemetry?: { messagesTotal: number; bytesTotal: number; firstMessageAt: string; lastMessageAt: string; lastTopic: string };
}

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

export interface DeviceDocument {
  deviceId: string;
  batchId?: string;
  state: DeviceStateName;
  stateChangedAt: string;
  identity?: {
    enrolmentKeyDigest: string;
    enrolmentPublicKey: string;
    source?: string;
    importId?: string;
    metadata?: Record<string, string>;
    firmwareMeasurement?: string;
  };
  verifiedAt?: string;
  verificationFailure?: { reason: string; at: string };
  certificate?: CertificateView;
  certificateRejection?: { reason: string; at: string };
  targets?: Record<string, TargetLink>;
  connection: ConnectionState;
  messagesTotal: number;
  lastTelemetryAt?: string;
  revocation?: { revocationId: string; reason: string; revokedAt: string };
  updatedAt: string;
}

export interface BatchDocument {
  batchId: string;
  name: string;
  policyId: string;
  ownerId: string;
  expectedSize: number;
  createdAt: string;
  metadata?: Record<string, string>;
  /** Devices per state (only states reached appear). */
  counts: Partial<Record<DeviceStateName, number>>;
  devices: number;
  connected: number;
  verificationFailures: number;
  certificateRejections: number;
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
  definedAt: string;
}

export interface TargetDocument {
  targetId: string;
  kind: string;
  name: string;
  host: string;
  tlsPort: number;
  registeredAt: string;
  trustAnchors?: Record<string, { fingerprintSha256: string; at: string }>;
  crl?: Record<string, { crlNumber: number; at: string }>;
  onboarded: number;
  connected: number;
}
