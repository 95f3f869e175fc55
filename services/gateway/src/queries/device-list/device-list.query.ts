import { Type } from '@sinclair/typebox';
import type { ProjectionDocument, ProjectionStore, WhereValue } from '@tunnelkey/projection-store';
import { BadRequest } from '../../errors.js';
import { devicesCollection, fleetProjectionName, linksCollection } from '../../views/fleet.view.js';
import {
  connectionOf,
  connectionStates,
  deviceStates,
  stateChangedAtOf,
  stateOf,
  whereConnection,
  whereState,
  type ConnectionState,
  type DeviceDocument,
  type DeviceStateName,
  type LinkDocument,
  type TargetLink,
} from '../../views/fleet-documents.js';
import { targetsOf } from '../device-detail/device-detail.query.js';
import { enumParam, optionalIdParam, pageOf, pageQueryParameters, type Page, type PageRequest } from '../paging.js';

export interface DeviceListFilter extends PageRequest {
  batchId?: string;
  state?: DeviceStateName;
  targetId?: string;
  connection?: ConnectionState;
  /** Device id prefix. */
  q?: string;
}

export const deviceListParameters = {
  batchId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }),
  state: Type.Union(deviceStates.map((s) => Type.Literal(s))),
  targetId: Type.String({
    pattern: '^[A-Za-z0-9_-]{1,128}$',
    description: 'Devices on this target; `connection` then means the connection to it. Not combinable with `state`.',
  }),
  connection: Type.Union(connectionStates.map((s) => Type.Literal(s))),
  q: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$', description: 'Device id prefix' }),
  ...pageQueryParameters,
};

export const DeviceSummarySchema = Type.Object({
  deviceId: Type.String(),
  batchId: Type.Optional(Type.String()),
  state: Type.Union(deviceStates.map((s) => Type.Literal(s))),
  stateChangedAt: Type.String({ format: 'date-time' }),
  connection: Type.Union(connectionStates.map((s) => Type.Literal(s))),
  targets: Type.Array(Type.Object({ targetId: Type.String(), status: Type.String(), connected: Type.Boolean() })),
  messagesTotal: Type.Integer({ minimum: 0 }),
  lastTelemetryAt: Type.Optional(Type.String({ format: 'date-time' })),
  certificate: Type.Optional(
    Type.Object({ serialNumber: Type.String(), notAfter: Type.String(), fingerprintSha256: Type.String() }),
  ),
  problem: Type.Optional(Type.String({ description: 'Last verification failure or certificate rejection reason' })),
});

export type DeviceSummary = {
  deviceId: string;
  batchId?: string;
  state: DeviceStateName;
  stateChangedAt: string;
  connection: ConnectionState;
  targets: { targetId: string; status: string; connected: boolean }[];
  messagesTotal: number;
  lastTelemetryAt?: string;
  certificate?: { serialNumber: string; notAfter: string; fingerprintSha256: string };
  problem?: string;
};

export function deviceListFilterOf(query: Record<string, unknown>): DeviceListFilter {
  const filter: DeviceListFilter = { ...pageOf(query) };
  const batchId = optionalIdParam(query, 'batchId');
  const targetId = optionalIdParam(query, 'targetId');
  const q = optionalIdParam(query, 'q');
  const state = enumParam(query, 'state', deviceStates);
  const connection = enumParam(query, 'connection', connectionStates);
  if (batchId) filter.batchId = batchId;
  if (targetId) filter.targetId = targetId;
  if (q) filter.q = q;
  if (state) filter.state = state;
  if (connection) filter.connection = connection;
  return filter;
}

type StoredDevice = DeviceDocument & ProjectionDocument;

/**
 * Devices, filtered and paged by the store on declared indexes, in import order. With `targetId`
 * the page is of the target's links (one per device on it), joined to their devices page-wise.
 * `batchIds`: only devices of these batches (an owner's: a device is its batch's owner's).
 */
export async function listDevices(
  store: ProjectionStore,
  filter: DeviceListFilter,
  batchIds?: readonly string[],
): Promise<Page<DeviceSummary>> {
  const inBatches: WhereValue | undefined =
    filter.batchId !== undefined ? filter.batchId : batchIds !== undefined ? { in: batchIds } : undefined;
  const page = { skip: filter.offset, limit: filter.limit };
  let devices: StoredDevice[];
  let total: number;
  if (filter.targetId !== undefined) {
    if (filter.state !== undefined)
      throw new BadRequest('query parameter state cannot be combined with targetId', [{ path: 'query.state' }]);
    const where: Record<string, WhereValue> = { targetId: filter.targetId };
    if (inBatches !== undefined) where.batchId = inBatches;
    if (filter.connection !== undefined) where.connection = whereConnection(filter.connection);
    if (filter.q !== undefined) where.idPrefixes = filter.q;
    const links = await store.find<LinkDocument & ProjectionDocument>(fleetProjectionName, linksCollection, {
      where,
      ...page,
    });
    const found = await Promise.all(
      links.items.map((link) => store.get<StoredDevice>(fleetProjectionName, devicesCollection, link.deviceId)),
    );
    devices = found.filter((device): device is StoredDevice => device !== undefined);
    total = links.total;
  } else {
    const where: Record<string, WhereValue> = {};
    if (inBatches !== undefined) where.batchId = inBatches;
    if (filter.state !== undefined) Object.assign(where, whereState(filter.state));
    if (filter.connection !== undefined) where.connection = whereConnection(filter.connection);
    if (filter.q !== undefined) where.idPrefixes = filter.q;
    const found = await store.find<StoredDevice>(fleetProjectionName, devicesCollection, {
      where,
      sort: [{ field: 'listedSeq' }],
      ...page,
    });
    devices = found.items;
    total = found.total;
  }
  const items = await Promise.all(
    devices.map(async (device) => summaryOf(device, await targetsOf(store, device.deviceId))),
  );
  return { items, total, limit: filter.limit, offset: filter.offset };
}

export function summaryOf(
  device: DeviceDocument,
  targets: readonly (TargetLink & { targetId: string })[],
): DeviceSummary {
  const state = stateOf(device);
  const problem =
    device.certificateRejection?.reason ?? (state === 'Imported' ? device.verificationFailure?.reason : undefined);
  return {
    deviceId: device.deviceId,
    ...(device.batchId ? { batchId: device.batchId } : {}),
    state,
    stateChangedAt: stateChangedAtOf(device),
    connection: connectionOf(device),
    targets: targets.map(({ targetId, status, connected }) => ({ targetId, status, connected })),
    messagesTotal: targets.reduce((sum, t) => sum + (t.telemetry?.messagesTotal ?? 0), 0),
    ...(device.lastTelemetryAt ? { lastTelemetryAt: device.lastTelemetryAt } : {}),
    ...(device.certificate
      ? {
          certificate: {
            serialNumber: device.certificate.serialNumber,
            notAfter: device.certificate.notAfter,
            fingerprintSha256: device.certificate.fingerprintSha256,
          },
        }
      : {}),
    ...(problem ? { problem } : {}),
  };
}
