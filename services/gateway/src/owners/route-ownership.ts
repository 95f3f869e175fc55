import { commandRoutes, routePath, type CommandRouteName } from '../commands/command-routes.js';
import { queryRoutes, type QueryRoute } from '../queries/query-routes.js';
import type { OwnedKind, OwnedRef } from './owner-directory.js';

/** What a rule reads of a request: path parameters, the parsed body (small-body routes), the query. */
export interface RouteInput {
  params: Readonly<Record<string, string>>;
  body: unknown;
  query: Readonly<Record<string, unknown>>;
}

/**
 * How one route keeps owners apart. Every route the gateway serves has one (a route without one is
 * refused, and the route-table test fails):
 * - `owned`: the things it names (`refs`) must be the caller's owner's, else 404 and nothing runs;
 *   `fillsOwner`: a create whose body names no owner gets the caller's.
 * - `filtered`: it answers lists, counts or events, and shows only the caller's owner's (the handler
 *   filters); `refs` it names (a list's `batchId`) are checked as for `owned`.
 * - `platform`: the shared firmware catalog's writes: the platform-admin capability only (403).
 * - `open`: it shows nothing of any owner (the caller's own identity, the API's description, probes).
 */
export type RouteOwnership =
  | { kind: 'owned'; refs: (input: RouteInput) => OwnedRef[]; fillsOwner?: boolean }
  | { kind: 'filtered'; refs?: (input: RouteInput) => OwnedRef[] }
  | { kind: 'platform'; why: string }
  | { kind: 'open'; why: string };

const idPattern = /^[A-Za-z0-9_-]{1,128}$/;

/** The well-formed ids in a value (one, or a list); anything else is left to the contract's check (400). */
function idsIn(value: unknown): string[] {
  const values = Array.isArray(value) ? value : [value];
  return values.filter((v): v is string => typeof v === 'string' && idPattern.test(v));
}

const field = (body: unknown, name: string): unknown =>
  typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;

const refs = (kind: OwnedKind, value: unknown, claimable = false): OwnedRef[] =>
  idsIn(value).map((id) => ({ kind, id, ...(claimable ? { claimable } : {}) }));

const param = (kind: OwnedKind, name: string) => (input: RouteInput) => refs(kind, input.params[name]);

/** A DeviceScope (`{ kind: 'device' | 'devices' | 'batch', ... }`): its device(s) or its batch. */
function scopeRefs(input: RouteInput): OwnedRef[] {
  const scope = field(input.body, 'scope');
  return [
    ...refs('device', field(scope, 'deviceId')),
    ...refs('device', field(scope, 'deviceIds')),
    ...refs('batch', field(scope, 'batchId')),
  ];
}

const bodyOwner = (input: RouteInput) => refs('owner', field(input.body, 'ownerId'));

/** One rule per operator command (its route comes from `commandRoutes`). */
export const commandOwnership: Record<CommandRouteName, RouteOwnership> = {
  DefineServerPolicy: {
    kind: 'owned',
    fillsOwner: true,
    refs: (input) => [
      ...bodyOwner(input),
      ...refs('policy', field(input.body, 'policyId')),
      ...refs('target', field(input.body, 'targetIds')),
    ],
  },
  SetRenewalPolicy: { kind: 'owned', refs: param('policy', 'policyId') },
  RegisterTarget: {
    kind: 'owned',
    fillsOwner: true,
    refs: (input) => [...bodyOwner(input), ...refs('target', field(input.body, 'targetId'))],
  },
  CreateIssuingAuthority: { kind: 'owned', fillsOwner: true, refs: bodyOwner },
  CreateBatch: {
    kind: 'owned',
    fillsOwner: true,
    refs: (input) => [
      ...bodyOwner(input),
      ...refs('batch', field(input.body, 'batchId')),
      ...refs('policy', field(input.body, 'policyId')),
    ],
  },
  ImportIdentities: { kind: 'owned', refs: param('batch', 'batchId') },
  RequestEnrolmentKeys: {
    kind: 'owned',
    refs: (input) => [...refs('batch', input.params.batchId), ...refs('device', field(input.body, 'deviceIds'), true)],
  },
  RegisterManufacturerKey: { kind: 'owned', refs: param('batch', 'batchId') },
  DecideHeldEnrolments: {
    kind: 'owned',
    refs: (input) => [...refs('batch', input.params.batchId), ...refs('device', field(input.body, 'deviceIds'), true)],
  },
  VerifyIdentity: { kind: 'owned', refs: scopeRefs },
  CertifyDevices: { kind: 'owned', refs: scopeRefs },
  OnboardBatch: {
    kind: 'owned',
    refs: (input) => [...refs('batch', input.params.batchId), ...refs('target', field(input.body, 'targetIds'))],
  },
  OnboardDevice: {
    kind: 'owned',
    refs: (input) => [...refs('device', input.params.deviceId), ...refs('target', field(input.body, 'targetIds'))],
  },
  RevokeDevice: { kind: 'owned', refs: param('device', 'deviceId') },
  RenewCertificates: { kind: 'owned', refs: scopeRefs },
  GetRenewalProgress: { kind: 'owned', refs: param('renewal', 'operationId') },
  RevokeBatch: { kind: 'owned', refs: param('batch', 'batchId') },
  RegisterFirmwareProduct: {
    kind: 'platform',
    why: 'firmware products are one catalog the platform signs for every owner',
  },
  RegisterFirmware: { kind: 'platform', why: 'releases are signed by the platform key for every owner' },
  ListFirmware: { kind: 'open', why: 'the shared firmware catalog (products and signed releases) is every owner’s' },
  StartRollout: { kind: 'owned', refs: (input) => refs('batch', field(input.body, 'batchIds')) },
  PauseRollout: { kind: 'owned', refs: param('rollout', 'rolloutId') },
  ResumeRollout: { kind: 'owned', refs: param('rollout', 'rolloutId') },
  AbortRollout: { kind: 'owned', refs: param('rollout', 'rolloutId') },
  DescribeRollout: { kind: 'owned', refs: param('rollout', 'rolloutId') },
  SetIntegrityPolicy: { kind: 'owned', refs: param('policy', 'policyId') },
  ReleaseQuarantine: { kind: 'owned', refs: param('device', 'deviceId') },
  // The reply's alerts are filtered to the caller's devices (commands.controller).
  ListIntegrityAlerts: { kind: 'filtered' },
  DescribeDeviceIntegrity: { kind: 'owned', refs: param('device', 'deviceId') },
  RegisterOwnerKey: { kind: 'owned', refs: param('owner', 'ownerId') },
  // The old owner's call: its owner and devices must be the caller's. The new owner's batch is not
  // (it is the new owner's): the registry checks the new owner's signed acceptance instead.
  TransferOwnership: {
    kind: 'owned',
    refs: (input) => {
      const devices = field(input.body, 'devices');
      return [
        ...refs('owner', field(input.body, 'fromOwnerId')),
        ...refs('device', Array.isArray(devices) ? devices.map((d) => field(d, 'deviceId')) : []),
      ];
    },
  },
};

/** One rule per query route (`queryRoutes`). */
export const queryOwnership: Record<keyof typeof queryRoutes, RouteOwnership> = {
  batches: { kind: 'filtered' },
  batch: { kind: 'owned', refs: param('batch', 'batchId') },
  heldEnrolments: { kind: 'owned', refs: param('batch', 'batchId') },
  devices: {
    kind: 'filtered',
    refs: (input) => [...refs('batch', input.query.batchId), ...refs('target', input.query.targetId)],
  },
  device: { kind: 'owned', refs: param('device', 'deviceId') },
  deviceHistory: { kind: 'owned', refs: param('device', 'deviceId') },
  policies: { kind: 'filtered' },
  policy: { kind: 'owned', refs: param('policy', 'policyId') },
  targets: { kind: 'filtered' },
  target: { kind: 'owned', refs: param('target', 'targetId') },
};

/** `METHOD /route/:path` of a route, as the guard and the route-table test name it. */
export const routeKey = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;

/** Every route the gateway serves, and its rule. */
export const routeOwnership: ReadonlyMap<string, RouteOwnership> = new Map<string, RouteOwnership>([
  ...Object.entries(commandRoutes).map(
    ([name, route]) => [routeKey('POST', routePath(route.path)), commandOwnership[name as CommandRouteName]] as const,
  ),
  ...Object.entries(queryRoutes).map(
    ([name, route]: [string, QueryRoute]) =>
      [routeKey('GET', routePath(route.path)), queryOwnership[name as keyof typeof queryRoutes]] as const,
  ),
  [routeKey('GET', '/api/tokens'), { kind: 'filtered' }],
  // The token service applies the same rule: a token of the caller's owner (another only for a platform admin).
  [routeKey('POST', '/api/tokens'), { kind: 'owned', fillsOwner: true, refs: bodyOwner }],
  // The token service finds the token within the caller's owner only (404 otherwise).
  [routeKey('DELETE', '/api/tokens/:tokenId'), { kind: 'filtered' }],
  [routeKey('GET', '/api/whoami'), { kind: 'open', why: "the caller's own token" }],
  [routeKey('POST', '/api/sse-tickets'), { kind: 'open', why: "a ticket for the caller's own token" }],
  [routeKey('GET', '/events'), { kind: 'filtered', refs: (input) => refs('batch', input.query.batchId) }],
  [routeKey('GET', '/events/rollouts/:rolloutId'), { kind: 'owned', refs: param('rollout', 'rolloutId') }],
  // firmwareUploadPath (not imported: the upload controller imports the guard, which imports this table).
  [routeKey('POST', '/api/firmware/uploads'), { kind: 'platform', why: 'images for the shared firmware catalog' }],
  [routeKey('GET', '/openapi.json'), { kind: 'open', why: 'the API description, public like /health' }],
  [routeKey('GET', '/health'), { kind: 'open', why: 'a probe' }],
  [routeKey('GET', '/ready'), { kind: 'open', why: 'a probe' }],
  [routeKey('GET', '/metrics'), { kind: 'open', why: 'Prometheus scrape, its own token (GATEWAY_METRICS_TOKEN)' }],
]);
