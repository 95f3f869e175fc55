import type { ProjectionDocument, ProjectionStore } from '@tunnelkey/projection-store';
import { catalogProjectionName, policiesCollection, targetsCollection } from '../views/catalog.view.js';
import { batchesCollection, devicesCollection, fleetProjectionName } from '../views/fleet.view.js';
import type { BatchDocument, DeviceDocument } from '../views/fleet-documents.js';

/** The kinds of things a route can name whose owner the directory knows. */
export type OwnedKind = 'owner' | 'batch' | 'device' | 'policy' | 'target' | 'renewal' | 'rollout';

/** A thing a request names: checked against the caller's owner before the route runs. */
export interface OwnedRef {
  kind: OwnedKind;
  id: string;
  /**
   * A thing with no owner may be named: a device that announced itself and joined no batch is
   * claimed by asking it for its key (RequestEnrolmentKeys) or approving it into a batch.
   */
  claimable?: boolean;
}

/** `unknown`: nothing in the read models (after catching up with the log) has this id. */
export type Ownership = { known: false } | { known: true; ownerId: string | undefined };

const unknown: Ownership = { known: false };
const ownedBy = (ownerId: string | undefined): Ownership => ({ known: true, ownerId });

type Stored<T> = T & ProjectionDocument;

/**
 * Whose a thing is, read from the gateway's read models: a batch's owner is in its BatchCreated;
 * a policy's and a target's in their definition (v1: the default owner); a device is its batch's
 * (a device in no batch has no owner); a renewal operation is its devices' owner (every device of
 * it must be the caller's: an automatic sweep spans owners and is the platform admin's).
 * A batch's owner never changes (a transfer moves devices, not batches), so a found one is kept.
 */
export class OwnerDirectory {
  readonly #batchOwners = new Map<string, string>();

  /**
   * @param rolloutDevices a rollout's devices (the OTA service knows them; undefined: no such
   * rollout). A rollout is its devices' owner's.
   */
  constructor(
    private readonly store: ProjectionStore,
    private readonly rolloutDevices: (rolloutId: string) => Promise<string[] | undefined> = async () => undefined,
  ) {}

  async ownerOf(ref: OwnedRef): Promise<Ownership> {
    switch (ref.kind) {
      case 'owner':
        return ownedBy(ref.id);
      case 'batch':
        return this.#batch(ref.id);
      case 'device': {
        // Every device request asks this: its batch only, not a copy of the document and its certificates.
        const found = await this.store.find<Stored<DeviceDocument>>(fleetProjectionName, devicesCollection, {
          where: { id: ref.id },
          select: ['batchId'],
          limit: 1,
        });
        const device = found.items[0];
        if (!device) return unknown;
        return device.batchId ? this.#known(await this.#batch(device.batchId)) : ownedBy(undefined);
      }
      case 'policy':
        return this.#catalog(policiesCollection, ref.id);
      case 'target':
        return this.#catalog(targetsCollection, ref.id);
      case 'renewal':
        return this.#renewal(ref.id);
      case 'rollout': {
        const deviceIds = await this.rolloutDevices(ref.id);
        return deviceIds ? this.#ownerOfAll(deviceIds) : unknown;
      }
    }
  }

  /** The ids of an owner's batches (what its devices are found by), newest first; at most 1,000. */
  async batchIdsOf(ownerId: string): Promise<string[]> {
    const found = await this.store.find<Stored<BatchDocument>>(fleetProjectionName, batchesCollection, {
      where: { ownerId },
      sort: [{ field: 'createdAt', direction: 'desc' }],
      limit: 1_000,
      select: ['batchId'],
    });
    return found.items.map((batch) => batch.batchId);
  }

  /** The owner of a device document's batch (undefined: in no batch, or a batch not projected yet). */
  async ownerOfBatch(batchId: string | undefined): Promise<string | undefined> {
    if (!batchId) return undefined;
    const ownership = await this.#batch(batchId);
    return ownership.known ? ownership.ownerId : undefined;
  }

  async #batch(batchId: string): Promise<Ownership> {
    const kept = this.#batchOwners.get(batchId);
    if (kept) return ownedBy(kept);
    const batch = await this.store.get<Stored<BatchDocument>>(fleetProjectionName, batchesCollection, batchId);
    // A batch document can exist before its BatchCreated is applied (a count written first).
    if (!batch?.ownerId) return unknown;
    if (this.#batchOwners.size >= 100_000) this.#batchOwners.clear();
    this.#batchOwners.set(batchId, batch.ownerId);
    return ownedBy(batch.ownerId);
  }

  /** A device in a batch not projected yet is known, with no owner anyone but a platform admin sees. */
  #known(batch: Ownership): Ownership {
    return batch.known ? batch : ownedBy(undefined);
  }

  async #catalog(collection: string, id: string): Promise<Ownership> {
    const doc = await this.store.get<Stored<{ ownerId?: string }>>(catalogProjectionName, collection, id);
    return doc ? ownedBy(doc.ownerId) : unknown;
  }

  async #renewal(operationId: string): Promise<Ownership> {
    const devices = await this.store.find<Stored<DeviceDocument>>(fleetProjectionName, devicesCollection, {
      where: { renewalOperationId: operationId },
      limit: 1_000,
    });
    if (devices.items.length === 0) return unknown;
    return this.#owners(await Promise.all(devices.items.map((device) => this.ownerOfBatch(device.batchId))));
  }

  async #ownerOfAll(deviceIds: readonly string[]): Promise<Ownership> {
    const owners = await Promise.all(
      deviceIds.slice(0, 10_000).map(async (id) => {
        const ownership = await this.ownerOf({ kind: 'device', id });
        return ownership.known ? ownership.ownerId : undefined;
      }),
    );
    return this.#owners(owners);
  }

  /** One owner for all: theirs. None, or several (an automatic sweep): no owner's alone. */
  #owners(owners: readonly (string | undefined)[]): Ownership {
    const distinct = new Set(owners);
    return distinct.size === 1 ? ownedBy([...distinct][0]) : ownedBy(undefined);
  }
}
