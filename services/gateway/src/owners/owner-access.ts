/**
 * The one rule every route applies: may this caller see (and act on) a thing of this owner?
 * Pure. A thing with no owner (a device that announced itself and joined no batch) is visible to
 * platform admins only. Whatever the answer is no for is answered as unknown (404): a caller learns
 * nothing of another owner's things, not even that they exist.
 */
export interface OwnerScope {
  /** The caller's owner (tenant). */
  readonly ownerId: string;
  /** The platform-admin capability: every owner. */
  readonly allOwners: boolean;
}

export function mayAccess(caller: OwnerScope, ownerId: string | undefined): boolean {
  if (caller.allOwners) return true;
  return ownerId !== undefined && ownerId === caller.ownerId;
}

/** The owners a caller's lists are restricted to: `undefined` for a platform admin (every owner). */
export function ownerFilterOf(caller: OwnerScope): string | undefined {
  return caller.allOwners ? undefined : caller.ownerId;
}
