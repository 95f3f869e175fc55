import type { ProjectionDocument, ProjectionStore, Write } from '@tunnelkey/projection-store';
import { catalogProjectionName, policiesCollection, targetsCollection } from '../views/catalog.view.js';
import { batchesCollection, devicesCollection, fleetProjectionName } from '../views/fleet.view.js';
import type { BatchDocument, DeviceDocument } from '../views/fleet-documents.js';
import { KeptValues } from '../views/kept-values.js';
import type { ReadModels } from '../views/read-models.js';

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
 * Every device request asks for its device's batch, every list for its owner's batches: both are
 * kept too, until a commit of the `fleet` view writes to the device, or to any batch (issue 19:
 * a find per request was a fifth of a device detail's CPU on the embedded store, a round trip on
 * MongoDB).
 */
export class OwnerDirectory {
  readonly #batchOwners = new Map<string, string>();
  /** A device's batch (`null`: in none). */
  readonly #deviceBatches: KeptValues<string | null>;
  readonly #ownerBatches: KeptValues<string[]>;
  private readonly store: ProjectionStore;

  /**
   * @param readModels the store, and its commits (without them, as a bare store, nothing but a
   * batch's owner is kept).
   * @param rolloutDevices a rollout's devices (the OTA service knows them; undefined: no such
   * rollout). A rollout is its devices' owner's.
   */
  constructor(
    readModels: Pick<ReadModels, 'store'> & Partial<Pick<ReadModels, 'onCommitted'>>,
    private readonly rolloutDevices: (rolloutId: string) => Promise<string[] | undefined> = async () => undefined,
  ) {
    this.store = readModels.store;
    const keeps = readModels.onCommitted !== undefined;
    this.#deviceBatches = new KeptValues(keeps);
    this.#ownerBatches = new KeptValues(keeps, 10_000);
    readModels.onCommitted?.(({ projection, writes }) => {
      if (projection === fleetProjectionName) this.#drop(writes);
    });
  }

  async ownerOf(ref: OwnedRef): Promise<Ownership> {
    switch (ref.kind) {
      case 'owner':
        return ownedBy(ref.id);
      case 'batch':
        return this.#batch(ref.id);
      case 'device': {
        const kept = this.#deviceBatches.peek(ref.id);
        const batchId =
          kept !== undefined ? kept : await this.#deviceBatches.get(ref.id, () => this.#batchOfDevice(ref.id));
        if (batchId === undefined) return unknown;
        return batchId !== null ? this.#known(await this.#batch(batchId)) : ownedBy(undefined);
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
  async batchIdsOf(ownerId: string): Promise<readonly string[]> {
    const kept = this.#ownerBatches.peek(ownerId);
    if (kept) return kept;
    const found = await this.#ownerBatches.get(ownerId, async () => {
      const batches = await this.store.find<Stored<BatchDocument>>(fleetProjectionName, batchesCollection, {
        where: { ownerId },
        sort: [{ field: 'createdAt', direction: 'desc' }],
        limit: 1_000,
        select: ['batchId'],
      });
      return batches.items.map((batch) => batch.batchId);
    });
    return found!;
  }

  /** A device's batch, `null` when in none (its batch only: not a copy of the document and its certificates). */
  async #batchOfDevice(deviceId: string): Promise<string | null | undefined> {
    const found = await this.store.find<Stored<DeviceDocument>>(fleetProjectionName, devicesCollection, {
      where: { id: deviceId },
      select: ['batchId'],
      limit: 1,
    });
    const device = found.items[0];
    return device ? (device.batchId ?? null) : undefined;
  }

  #drop(writes: readonly Write[]): void {
    for (const write of writes) {
      if (write.collection === devicesCollection) this.#deviceBatches.drop(write.id);
      // A new batch (or one deleted) changes its owner's list; any batch write is rare enough.
      else if (write.collection === batchesCollection) this.#ownerBatches.clear();
    }
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
