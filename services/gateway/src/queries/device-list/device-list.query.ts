import { Type } from '@sinclair/typebox';
import type { ProjectionDocument, ProjectionStore, SortDirection, WhereValue } from '@tunnelkey/projection-store';
import { BadRequest } from '../../errors.js';
import { devicesCollection, fleetProjectionName, linksCollection } from '../../views/fleet.view.js';
import {
  connectionStates,
  deviceStates,
  milestoneFlags,
  whereConnection,
  whereState,
  type ConnectionState,
  type DeviceStateName,
  type LinkDocument,
} from '../../views/fleet-documents.js';
import { KeptDevices, type DeviceSummary } from '../kept-devices.js';
import { enumParam, optionalIdParam, pageOf, pageQueryParameters, type Page, type PageRequest } from '../paging.js';

export interface DeviceListFilter extends PageRequest {
  batchId?: string;
  state?: DeviceStateName;
  targetId?: string;
  connection?: ConnectionState;
  /** Device id prefix. */
  q?: string;
  /** Fleet-wide order (not the page's); default: import order. */
  sort?: DeviceSort;
}

/**
 * What the list sorts by, each mapped to indexed fields of the device document. The state is the
 * highest milestone reached, written by two sources (registry, onboarding), so it is sorted by the
 * milestone flags from the furthest down (a flag missing sorts before `true`): Announced first,
 * Revoked last, and within a state by the steps the device went through (a revoked device that was
 * certified after one revoked before its certification). A device without the value (never
 * certified, never connected, no telemetry) comes first ascending, last descending. Ties go by
 * device id, ascending either way, so pages never overlap or skip a device.
 */
export const deviceSortFields = {
  deviceId: ['id'],
  batchId: ['batchId'],
  state: milestoneFlags,
  connection: ['connection'],
  importedAt: ['importedAt'],
  certifiedAt: ['certifiedAt'],
  connectedAt: ['connectedAt'],
  lastTelemetryAt: ['lastTelemetryAt'],
  certificateNotAfter: ['certificateNotAfter'],
} as const satisfies Record<string, readonly string[]>;
export type DeviceSortField = keyof typeof deviceSortFields;
export const deviceSortFieldNames = Object.keys(deviceSortFields) as DeviceSortField[];

export interface DeviceSort {
  field: DeviceSortField;
  direction: SortDirection;
}

const sortPattern = `^(${deviceSortFieldNames.join('|')})(:(asc|desc))?$`;

/** `sort=certifiedAt:desc` read and checked: an unknown field is a 400 that names the known ones. */
export function deviceSortOf(query: Record<string, unknown>): DeviceSort | undefined {
  const raw = query['sort'];
  if (raw === undefined || raw === '') return undefined;
  const match = typeof raw === 'string' ? new RegExp(sortPattern).exec(raw) : null;
  if (!match)
    throw new BadRequest(
      `query parameter sort must be <field>[:asc|:desc], the field one of ${deviceSortFieldNames.join(', ')}`,
      [{ path: 'query.sort' }],
    );
  return { field: match[1] as DeviceSortField, direction: match[3] === 'desc' ? 'desc' : 'asc' };
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
  sort: Type.String({
    pattern: sortPattern,
    description:
      'Order of the whole filtered list, `<field>` or `<field>:desc`; ties by deviceId. Devices without the ' +
      'value first ascending, last descending. `state` is the lifecycle order (Revoked furthest), then the ' +
      'steps a device went through. Default: import order. Not combinable with `targetId`.',
  }),
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

export function deviceListFilterOf(query: Record<string, unknown>): DeviceListFilter {
  const filter: DeviceListFilter = { ...pageOf(query) };
  const batchId = optionalIdParam(query, 'batchId');
  const targetId = optionalIdParam(query, 'targetId');
  const q = optionalIdParam(query, 'q');
  const state = enumParam(query, 'state', deviceStates);
  const connection = enumParam(query, 'connection', connectionStates);
  const sort = deviceSortOf(query);
  if (sort) filter.sort = sort;
  if (batchId) filter.batchId = batchId;
  if (targetId) filter.targetId = targetId;
  if (q) filter.q = q;
  if (state) filter.state = state;
  if (connection) filter.connection = connection;
  return filter;
}

/**
 * Devices, filtered, sorted and paged by the store on declared indexes (default: import order). With
 * `targetId` the page is of the target's links (one per device on it). `batchIds`: only devices of
 * these batches (an owner's: a device is its batch's owner's). Ids only: their entries come from
 * `KeptDevices`.
 */
export async function findDeviceIds(
  store: ProjectionStore,
  filter: DeviceListFilter,
  batchIds?: readonly string[],
): Promise<{ deviceIds: string[]; total: number }> {
  const inBatches: WhereValue | undefined =
    filter.batchId !== undefined ? filter.batchId : batchIds !== undefined ? { in: batchIds } : undefined;
  const page = { skip: filter.offset, limit: filter.limit };
  if (filter.targetId !== undefined) {
    if (filter.state !== undefined)
      throw new BadRequest('query parameter state cannot be combined with targetId', [{ path: 'query.state' }]);
    if (filter.sort !== undefined)
      throw new BadRequest('query parameter sort cannot be combined with targetId', [{ path: 'query.sort' }]);
    const where: Record<string, WhereValue> = { targetId: filter.targetId };
    if (inBatches !== undefined) where.batchId = inBatches;
    if (filter.connection !== undefined) where.connection = whereConnection(filter.connection);
    if (filter.q !== undefined) where.idPrefixes = filter.q;
    const links = await store.find<LinkDocument & ProjectionDocument>(fleetProjectionName, linksCollection, {
      where,
      ...page,
      select: ['deviceId'],
    });
    return { deviceIds: links.items.map((link) => link.deviceId), total: links.total };
  }
  const where: Record<string, WhereValue> = {};
  if (inBatches !== undefined) where.batchId = inBatches;
  if (filter.state !== undefined) Object.assign(where, whereState(filter.state));
  if (filter.connection !== undefined) where.connection = whereConnection(filter.connection);
  if (filter.q !== undefined) where.idPrefixes = filter.q;
  const found = await store.find(fleetProjectionName, devicesCollection, {
    where,
    sort: filter.sort
      ? deviceSortFields[filter.sort.field].map((field) => ({ field, direction: filter.sort!.direction }))
      : [{ field: 'listedSeq' }],
    ...page,
    select: [],
  });
  return { deviceIds: found.items.map((device) => device.id), total: found.total };
}

/** A page of the device list. `summaries`: the gateway's kept entries (default: derived afresh). */
export async function listDevices(
  store: ProjectionStore,
  filter: DeviceListFilter,
  batchIds?: readonly string[],
  summaries: KeptDevices = new KeptDevices({ store }),
): Promise<Page<DeviceSummary>> {
  const { deviceIds, total } = await findDeviceIds(store, filter, batchIds);
  const items = (await summaries.summaries(deviceIds)).map((entry) => entry.summary);
  return { items, total, limit: filter.limit, offset: filter.offset };
}

/** The same page as JSON, UTF-8: the devices' kept bytes copied into one buffer (the route sends it as is). */
export async function listDevicesJson(
  summaries: KeptDevices,
  store: ProjectionStore,
  filter: DeviceListFilter,
  batchIds?: readonly string[],
): Promise<Buffer> {
  const { deviceIds, total } = await findDeviceIds(store, filter, batchIds);
  const entries = await summaries.summaries(deviceIds);
  const head = '{"items":[';
  const tail = `],"total":${total},"limit":${filter.limit},"offset":${filter.offset}}`;
  let size = head.length + tail.length + Math.max(0, entries.length - 1);
  for (const entry of entries) size += entry.json.length;
  const page = Buffer.allocUnsafe(size);
  let at = page.write(head, 0, 'latin1');
  for (let i = 0; i < entries.length; i++) {
    if (i > 0) page[at++] = comma;
    // TypedArray#set: a native copy (Buffer#copy costs more per call than these few hundred bytes).
    const json = entries[i]!.json;
    page.set(json, at);
    at += json.length;
  }
  page.write(tail, at, 'latin1');
  return page;
}

const comma = 0x2c;
