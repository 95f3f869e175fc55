import { AggregateId } from './envelope.js';

/**
 * Owners (tenants): every batch, device, server policy, target and API token belongs to one.
 * An owner id is an aggregate id (`[A-Za-z0-9_-]{1,128}`).
 */
export const OwnerId = AggregateId;

/**
 * The owner of everything recorded before owners were first-class: a ServerPolicyDefined v1 or
 * TargetRegistered v1 upcasts to this owner, and an API token record without an owner belongs to it.
 * Batches always named their owner (BatchCreated v1 has `ownerId`); a device belongs to its batch's.
 */
export const defaultOwnerId = 'default';

/** The owner recorded in an event's data, or the default owner for one written before owners (a v1). */
export function ownerIdOf(data: { readonly ownerId?: string }): string {
  return data.ownerId ?? defaultOwnerId;
}
