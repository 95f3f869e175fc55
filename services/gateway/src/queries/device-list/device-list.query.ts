import { Type } from '@sinclair/typebox';
import type { MemoryReadStore } from '../../read-model/memory-read-store.js';
import { devicesCollection } from '../../projections/fleet.projection.js';
import { connectionStates, deviceStates, type ConnectionState, type DeviceDocument, type DeviceStateName } from '../../projections/fleet.views.js';
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
  targetId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }),
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
  certificate: Type.Optional(Type.Object({ serialNumber: Type.String(), notAfter: Type.String(), fingerprintSha256: Type.String() })),
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

/**
 * Devices, filtered and paged on the server: one pass over the collection in import order (a few
 * milliseconds at 10,000 devices), only the page's summaries built.
 */
export function listDevices(store: MemoryReadStore, filter: DeviceListFilter): Page<DeviceSummary> {
  const items: DeviceSummary[] = [];
  let total = 0;
  for (const doc of store.collection(devicesCollection).values() as Iterable<unknown>) {
    const device = doc as DeviceDocument;
    if (filter.batchId !== undefined && device.batchId !== filter.batchId) continue;
    if (filter.state !== undefined && device.state !== filter.state) continue;
    if (filter.connection !== undefined && device.connection !== filter.connection) continue;
    if (filter.targetId !== undefined && !device.targets?.[filter.targetId]) continue;
    if (filter.q !== undefined && !device.deviceId.startsWith(filter.q)) continue;
    if (total >= filter.offset && items.length < filter.limit) items.push(summaryOf(device));
    total++;
  }
  return { items, total, limit: filter.limit, offset: filter.offset };
}

export function summaryOf(device: DeviceDocument): DeviceSummary {
  const problem = device.certificateRejection?.reason ?? (device.state === 'Imported' ? device.verificationFailure?.reason : undefined);
  return {
    deviceId: device.deviceId,
    ...(device.batchId ? { batchId: device.batchId } : {}),
    state: device.state,
    stateChangedAt: device.stateChangedAt,
    connection: device.connection,
    targets: Object.entries(device.targets ?? {}).map(([targetId, link]) => ({ targetId, status: link.status, connected: link.connected })),
    messagesTotal: device.messagesTotal,
    ...(device.lastTelemetryAt ? { lastTelemetryAt: device.lastTelemetryAt } : {}),
    ...(device.certificate
      ? { certificate: { serialNumber: device.certificate.serialNumber, notAfter: device.certificate.notAfter, fingerprintSha256: device.certificate.fingerprintSha256 } }
      : {}),
    ...(problem ? { problem } : {}),
  };
}
