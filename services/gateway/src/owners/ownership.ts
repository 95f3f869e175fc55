import { mapBounded } from '@tunnelkey/concurrency';
import { Forbidden, NotFound } from '../errors.js';
import type { Principal } from '../auth/roles.js';
import { mayAccess } from './owner-access.js';
import type { OwnedRef, OwnerDirectory } from './owner-directory.js';
import type { RouteInput, RouteOwnership } from './route-ownership.js';

/** Owner lookups one request has in flight at once (a scope names up to 1,000 devices). */
const lookupsInFlight = 16;

/**
 * Applies a route's ownership rule before the route runs (from the auth guard): every thing the
 * request names must be the caller's owner's (`mayAccess`), else the request is answered 404 as if
 * the thing did not exist, and nothing is sent. A name nothing has yet (after the read models caught
 * up with the log) is left to the owning service: it is unknown there too, or it is being created.
 */
export class OwnershipCheck {
  constructor(
    readonly directory: OwnerDirectory,
    private readonly catchUp: () => Promise<void>,
  ) {}

  async check(caller: Principal, rule: RouteOwnership, input: RouteInput): Promise<void> {
    if (rule.kind === 'platform') {
      if (!caller.allOwners) throw new Forbidden(`this needs the platform-admin capability: ${rule.why}`);
      return;
    }
    if (rule.kind === 'open') return;
    if (rule.kind === 'owned' && rule.fillsOwner) fillOwner(input.body, caller.ownerId);
    const refs = rule.refs?.(input) ?? [];
    // Most routes name one thing (a device, a batch): no worker pool for it.
    if (refs.length === 1) await this.#require(caller, refs[0]!);
    else await mapBounded(refs, lookupsInFlight, (ref) => this.#require(caller, ref));
  }

  /** Whether the caller may see `ref` (a reply's items, a live event's device). */
  async visible(caller: Principal, ref: OwnedRef): Promise<boolean> {
    if (caller.allOwners) return true;
    const ownership = await this.directory.ownerOf(ref);
    return ownership.known && mayAccess(caller, ownership.ownerId);
  }

  async #require(caller: Principal, ref: OwnedRef): Promise<void> {
    if (caller.allOwners) return;
    let ownership = await this.directory.ownerOf(ref);
    if (!ownership.known) {
      await this.catchUp();
      ownership = await this.directory.ownerOf(ref);
    }
    if (!ownership.known) return;
    if (ownership.ownerId === undefined && ref.claimable) return;
    if (!mayAccess(caller, ownership.ownerId)) throw new NotFound(`${ref.kind} ${ref.id} is not known`);
  }
}

/** A create names its owner in the body; absent, it is the caller's. */
function fillOwner(body: unknown, ownerId: string): void {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const fields = body as Record<string, unknown>;
    if (fields.ownerId === undefined) fields.ownerId = ownerId;
  }
}
