import { Type } from '@sinclair/typebox';
import { NotFound } from '../../errors.js';
import type { ProjectionDocument, ProjectionStore } from '@tunnelkey/projection-store';
import {
  catalogProjectionName,
  policiesCollection,
  targetAuthoritiesCollection,
  targetsCollection,
} from '../../views/catalog.view.js';
import { fleetProjectionName, linksCollection } from '../../views/fleet.view.js';
import type { PolicyDocument, TargetDocument } from '../../views/fleet-documents.js';
import type { Page, PageRequest } from '../paging.js';

export const PolicySchema = Type.Object({
  policyId: Type.String(),
  name: Type.String(),
  targetIds: Type.Array(Type.String()),
  topicRights: Type.Array(Type.Object({ topic: Type.String(), access: Type.String() })),
  certificateLifetimeDays: Type.Integer(),
  ownerId: Type.String(),
  definedAt: Type.String({ format: 'date-time' }),
});

export const TargetSchema = Type.Object(
  {
    targetId: Type.String(),
    kind: Type.String(),
    name: Type.String(),
    host: Type.String(),
    tlsPort: Type.Integer(),
    ownerId: Type.String(),
    registeredAt: Type.String({ format: 'date-time' }),
    onboarded: Type.Integer(),
    connected: Type.Integer(),
  },
  { additionalProperties: true },
);

type Stored<T> = T & ProjectionDocument;

const withoutId = <T>({ id: _id, ...rest }: Stored<T>): T => rest as unknown as T;

/** Server policies by name; of one owner when `ownerId` is given. */
export async function listPolicies(
  store: ProjectionStore,
  page: PageRequest,
  ownerId?: string,
): Promise<Page<PolicyDocument>> {
  const found = await store.find<Stored<PolicyDocument>>(catalogProjectionName, policiesCollection, {
    ...(ownerId !== undefined ? { where: { ownerId } } : {}),
    sort: [{ field: 'name' }],
    skip: page.offset,
    limit: page.limit,
  });
  return { items: found.items.map(withoutId), total: found.total, limit: page.limit, offset: page.offset };
}

/**
 * A target's onboarded and connected devices, counted from the fleet's links (one document per
 * device and target): a duplicate DeviceConnected sets what the first set, so it cannot inflate them.
 */
async function deviceCounts(
  store: ProjectionStore,
  targetId?: string,
): Promise<Map<string, { onboarded: number; connected: number }>> {
  const where = targetId ? { where: { targetId } } : {};
  const [byStatus, byConnected] = await Promise.all([
    store.countBy(fleetProjectionName, linksCollection, { by: ['targetId', 'status'], ...where }),
    store.countBy(fleetProjectionName, linksCollection, { by: ['targetId', 'connected'], ...where }),
  ]);
  const counts = new Map<string, { onboarded: number; connected: number }>();
  const of = (id: string) => counts.get(id) ?? counts.set(id, { onboarded: 0, connected: 0 }).get(id)!;
  for (const { key, count } of byStatus) if (key.status === 'onboarded') of(key.targetId as string).onboarded += count;
  for (const { key, count } of byConnected) if (key.connected === true) of(key.targetId as string).connected += count;
  return counts;
}

async function targetOf(
  store: ProjectionStore,
  doc: Stored<TargetDocument>,
  counts: Map<string, { onboarded: number; connected: number }>,
): Promise<TargetDocument> {
  const authorities = await store.find<
    Stored<{
      authorityId: string;
      trustAnchor?: { fingerprintSha256: string; at: string };
      crl?: { crlNumber: number; at: string };
    }>
  >(catalogProjectionName, targetAuthoritiesCollection, { where: { targetId: doc.targetId }, limit: 1_000 });
  const trustAnchors = Object.fromEntries(
    authorities.items.filter((a) => a.trustAnchor).map((a) => [a.authorityId, a.trustAnchor!]),
  );
  const crl = Object.fromEntries(authorities.items.filter((a) => a.crl).map((a) => [a.authorityId, a.crl!]));
  return {
    ...withoutId(doc),
    ...(Object.keys(trustAnchors).length > 0 ? { trustAnchors } : {}),
    ...(Object.keys(crl).length > 0 ? { crl } : {}),
    ...(counts.get(doc.targetId) ?? { onboarded: 0, connected: 0 }),
  };
}

/** Onboarding targets by name with their device counts; of one owner when `ownerId` is given. */
export async function listTargets(
  store: ProjectionStore,
  page: PageRequest,
  ownerId?: string,
): Promise<Page<TargetDocument>> {
  const found = await store.find<Stored<TargetDocument>>(catalogProjectionName, targetsCollection, {
    ...(ownerId !== undefined ? { where: { ownerId } } : {}),
    sort: [{ field: 'name' }],
    skip: page.offset,
    limit: page.limit,
  });
  const counts =
    found.items.length > 0
      ? await deviceCounts(store, found.items.length === 1 ? found.items[0]!.targetId : undefined)
      : new Map();
  return {
    items: await Promise.all(found.items.map((doc) => targetOf(store, doc, counts))),
    total: found.total,
    limit: page.limit,
    offset: page.offset,
  };
}

export async function policy(store: ProjectionStore, policyId: string): Promise<PolicyDocument> {
  const found = await store.get<Stored<PolicyDocument>>(catalogProjectionName, policiesCollection, policyId);
  if (!found) throw new NotFound(`policy ${policyId} is not known`);
  return withoutId(found);
}

export async function target(store: ProjectionStore, targetId: string): Promise<TargetDocument> {
  const found = await store.get<Stored<TargetDocument>>(catalogProjectionName, targetsCollection, targetId);
  if (!found) throw new NotFound(`target ${targetId} is not known`);
  return targetOf(store, found, await deviceCounts(store, targetId));
}
