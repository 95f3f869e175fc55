import {
  CertifyDevices,
  CreateBatch,
  CreateIssuingAuthority,
  DefineServerPolicy,
  ImportIdentities,
  OnboardBatch,
  OnboardDevice,
  RegisterTarget,
  RequestEnrolmentKeys,
  RegisterManufacturerKey,
  DecideHeldEnrolments,
  GetRenewalProgress,
  RenewCertificates,
  RevokeBatch,
  SetRenewalPolicy,
  RevokeDevice,
  RegisterOwnerKey,
  TransferOwnership,
  VerifyIdentity,
  type CommandDefinition,
} from '@tunnelkey/contracts';
import type { Role } from '../auth/roles.js';
import { integrityCommandRoutes } from './integrity-routes.js';
import { otaCommandRoutes } from './ota-routes.js';

/** One HTTP route per operator command: the controller, the OpenAPI document and the CLI read this table. */
export interface CommandRoute {
  command: CommandDefinition;
  /** OpenAPI path; `{name}` parameters fill the payload field of the same name. */
  path: string;
  role: Role;
  /** 200 when the reply is the outcome; 202 when the command set work in motion (outcomes follow as events). */
  status: 200 | 202;
  /** The owning service may take this long (bulk and import calls are slower). */
  timeoutMs: number;
  /** More than the command's summary, for the OpenAPI document (what it answers and refuses). */
  description?: string;
}

export const commandRoutes = {
  DefineServerPolicy: {
    command: DefineServerPolicy,
    path: '/api/policies',
    role: 'admin',
    status: 200,
    timeoutMs: 15_000,
  },
  SetRenewalPolicy: {
    command: SetRenewalPolicy,
    path: '/api/policies/{policyId}/renewal',
    role: 'admin',
    status: 200,
    timeoutMs: 15_000,
    description:
      "When the policy's certificates renew: `renewAtShare` of their lifetime (default 2/3), spread by `jitterShare` " +
      '(default 0.1) so a batch certified together does not renew at once, and optionally `certificateLifetimeSeconds` ' +
      "(down to 3600: short-lived certificates) instead of the policy's days. 404 for an unknown policy.",
  },
  RegisterTarget: { command: RegisterTarget, path: '/api/targets', role: 'admin', status: 200, timeoutMs: 30_000 },
  CreateIssuingAuthority: {
    command: CreateIssuingAuthority,
    path: '/api/authorities',
    role: 'admin',
    status: 200,
    timeoutMs: 30_000,
    description:
      "Returns the owner's issuing CA (authority id, certificate, fingerprint) when the offline ceremony has signed one " +
      '(`npm run ca:ceremony -- sign-issuing-ca --owner <ownerId>`). It creates nothing: the root key stays offline, ' +
      'so an owner without one is refused with 422 `no-issuing-authority`, naming the ceremony step.',
  },
  CreateBatch: { command: CreateBatch, path: '/api/batches', role: 'operator', status: 200, timeoutMs: 15_000 },
  ImportIdentities: {
    command: ImportIdentities,
    path: '/api/batches/{batchId}/identities',
    role: 'operator',
    status: 200,
    timeoutMs: 120_000,
  },
  RequestEnrolmentKeys: {
    command: RequestEnrolmentKeys,
    path: '/api/batches/{batchId}/enrolment-key-requests',
    role: 'operator',
    status: 202,
    timeoutMs: 30_000,
  },
  RegisterManufacturerKey: {
    command: RegisterManufacturerKey,
    path: '/api/batches/{batchId}/manufacturer-keys',
    role: 'operator',
    status: 200,
    timeoutMs: 15_000,
  },
  DecideHeldEnrolments: {
    command: DecideHeldEnrolments,
    path: '/api/batches/{batchId}/enrolment-key-requests/{requestId}/decisions',
    role: 'operator',
    status: 200,
    timeoutMs: 60_000,
  },
  VerifyIdentity: {
    command: VerifyIdentity,
    path: '/api/verifications',
    role: 'operator',
    status: 202,
    timeoutMs: 60_000,
  },
  CertifyDevices: {
    command: CertifyDevices,
    path: '/api/certifications',
    role: 'operator',
    status: 202,
    timeoutMs: 60_000,
  },
  OnboardBatch: {
    command: OnboardBatch,
    path: '/api/batches/{batchId}/onboarding',
    role: 'operator',
    status: 202,
    timeoutMs: 60_000,
  },
  OnboardDevice: {
    command: OnboardDevice,
    path: '/api/devices/{deviceId}/onboarding',
    role: 'operator',
    status: 202,
    timeoutMs: 30_000,
  },
  RevokeDevice: {
    command: RevokeDevice,
    path: '/api/devices/{deviceId}/revocation',
    role: 'admin',
    status: 202,
    timeoutMs: 30_000,
  },
  RenewCertificates: {
    command: RenewCertificates,
    path: '/api/renewals',
    role: 'operator',
    status: 202,
    timeoutMs: 60_000,
    description:
      'Rotate, then revoke: each device of the scope derives its next TLS key, sends a CSR attested by its enrolment ' +
      'key, gets its new certificate and target certificates, connects with them, and only then is its old ' +
      'certificate revoked (superseded). `reason: key-exposure` after a suspected exposure. Replies with the ' +
      '`operationId` to follow (POST /api/renewals/{operationId}/progress); 422 for one device that is unknown, ' +
      'revoked or holds no certificate.',
  },
  GetRenewalProgress: {
    command: GetRenewalProgress,
    path: '/api/renewals/{operationId}/progress',
    role: 'viewer',
    status: 200,
    timeoutMs: 15_000,
    description:
      'Counts of one renewal operation: requested, renewed (new certificate issued), completed (device switched, ' +
      'old certificate revoked), expired (given up; the old certificate stays valid).',
  },
  RevokeBatch: {
    command: RevokeBatch,
    path: '/api/batches/{batchId}/revocation',
    role: 'admin',
    status: 202,
    timeoutMs: 60_000,
  },
  RegisterOwnerKey: {
    command: RegisterOwnerKey,
    path: '/api/owners/{ownerId}/custody-keys',
    role: 'admin',
    status: 200,
    timeoutMs: 15_000,
    description:
      "A P-256 public key (SubjectPublicKeyInfo DER, base64) the caller's owner signs custody statements with: " +
      'authorising a transfer of its devices away, accepting a transfer in. The same key again changes nothing; ' +
      'another key under a known key id is a conflict (409).',
  },
  TransferOwnership: {
    command: TransferOwnership,
    path: '/api/transfers',
    role: 'admin',
    status: 200,
    timeoutMs: 120_000,
    description:
      "Hands the caller's devices (one, or up to 1,000) to another owner, with a custody record each: the caller's " +
      "owner's authorisation, the new owner's acceptance and the device's acknowledgement, each a signature over " +
      'the same statement (docs/owners.md). Every signature is checked before anything is recorded; any bad record ' +
      'refuses the whole request (422: same-owner, authorisation-not-by-old-owner, acceptance-not-by-new-owner, ' +
      'acknowledgement-not-by-device, bad-custody-signature, device-revoked, batch-of-other-owner; 404: a device or ' +
      "batch unknown, or another owner's device). Then each device moves to a new owner epoch in the new owner's " +
      "batch, its old certificates are revoked and it leaves the old owner's targets; the new owner verifies, " +
      'certifies and onboards it as any device of its batch.',
  },
  ...otaCommandRoutes,
  ...integrityCommandRoutes,
} as const satisfies Record<string, CommandRoute>;

export type CommandRouteName = keyof typeof commandRoutes;

/**
 * Operator commands in contracts that no service handles yet, hence not served: a route would
 * leave its caller waiting for a timeout. None today.
 */
export const unservedCommands: readonly string[] = [];

/** Path parameters of an OpenAPI path, in order. */
export function pathParameters(path: string): string[] {
  return [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]!);
}

/** `/api/batches/{batchId}` -> `/api/batches/:batchId`: the route as Nest and its HTTP framework name it. */
export function routePath(path: string): string {
  return path.replace(/\{([A-Za-z]+)\}/g, ':$1');
}

/** Fields the gateway sets itself, never the body: ids for idempotency and tracing, and who asked. */
export const gatewayFields = ['commandId', 'correlationId', 'actor'] as const;
