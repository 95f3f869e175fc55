import { Type } from '@sinclair/typebox';
import { NotFound } from '../../errors.js';
import { policiesCollection, targetsCollection } from '../../projections/catalog.projection.js';
import type { PolicyDocument, TargetDocument } from '../../projections/fleet.views.js';
import type { MemoryReadStore } from '../../read-model/memory-read-store.js';
import { slice, type Page, type PageRequest } from '../paging.js';

export const PolicySchema = Type.Object({
  policyId: Type.String(),
  name: Type.String(),
  targetIds: Type.Array(Type.String()),
  topicRights: Type.Array(Type.Object({ topic: Type.String(), access: Type.String() })),
  certificateLifetimeDays: Type.Integer(),
  definedAt: Type.String({ format: 'date-time' }),
});

export const TargetSchema = Type.Object(
  { targetId: Type.String(), kind: Type.String(), name: Type.String(), host: Type.String(), tlsPort: Type.Integer(), registeredAt: Type.String({ format: 'date-time' }), onboarded: Type.Integer(), connected: Type.Integer() },
  { additionalProperties: true },
);

function sorted<T>(store: MemoryReadStore, collection: string, key: (doc: T) => string, complete: (doc: T) => boolean): T[] {
  return [...(store.collection(collection).values() as Iterable<unknown>)].map((doc) => doc as T).filter(complete).sort((a, b) => key(a).localeCompare(key(b)));
}

export function listPolicies(store: MemoryReadStore, page: PageRequest): Page<PolicyDocument> {
  return slice(sorted<PolicyDocument>(store, policiesCollection, (p) => p.name, (p) => p.name !== undefined), page);
}

export function listTargets(store: MemoryReadStore, page: PageRequest): Page<TargetDocument> {
  // A target seen only through device facts (registered before this gateway's log) has no name.
  return slice(sorted<TargetDocument>(store, targetsCollection, (t) => t.name, (t) => t.name !== undefined), page);
}

export function policy(store: MemoryReadStore, policyId: string): PolicyDocument {
  const found = store.get<PolicyDocument>(policiesCollection, policyId);
  if (!found) throw new NotFound(`policy ${policyId} is not known`);
  return found;
}

export function target(store: MemoryReadStore, targetId: string): TargetDocument {
  const found = store.get<TargetDocument>(targetsCollection, targetId);
  if (!found || found.name === undefined) throw new NotFound(`target ${targetId} is not known`);
  return found;
}
