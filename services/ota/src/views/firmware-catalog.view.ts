/**
 * Query: which firmware images are released, and what is each one's release? Folded from the OTA
 * log's firmware lines (and the signing-key delegations) in a LiveView, checkpointed.
 */
import {
  FirmwareImageRegistered,
  FirmwareImageSigned,
  FirmwareProductRegistered,
  FirmwareSigningKeyDelegated,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import { InMemoryView } from '@tunnelkey/messaging';
import type { Logger } from 'pino';

type D<E> = DataOf<E>;

export interface CatalogImage {
  image: D<typeof FirmwareImageRegistered>;
  release?: D<typeof FirmwareImageSigned>;
  registeredAt: string;
}

export interface CatalogState {
  products: Map<string, D<typeof FirmwareProductRegistered>>;
  /** firmwareId -> image, in release order. */
  images: Map<string, CatalogImage>;
  /** keyId -> delegation. */
  delegations: Map<string, D<typeof FirmwareSigningKeyDelegated>>;
}

export function foldCatalog(state: CatalogState, event: EventEnvelope): void {
  switch (event.type) {
    case FirmwareProductRegistered.type: {
      const data = event.data as D<typeof FirmwareProductRegistered>;
      state.products.set(data.product, data);
      break;
    }
    case FirmwareImageRegistered.type: {
      const data = event.data as D<typeof FirmwareImageRegistered>;
      state.images.set(data.firmwareId, { image: data, registeredAt: event.occurredAt });
      break;
    }
    case FirmwareImageSigned.type: {
      const data = event.data as D<typeof FirmwareImageSigned>;
      const entry = state.images.get(data.firmwareId);
      if (entry) entry.release = data;
      break;
    }
    case FirmwareSigningKeyDelegated.type: {
      const data = event.data as D<typeof FirmwareSigningKeyDelegated>;
      state.delegations.set(data.keyId, data);
      break;
    }
    default:
      break;
  }
}

export class FirmwareCatalogView extends InMemoryView<CatalogState> {
  static readonly viewName = 'ota-firmware-catalog';

  static async start(store: EventStore, logger?: Logger): Promise<FirmwareCatalogView> {
    const live = await LiveView.start<CatalogState>(
      store,
      {
        name: FirmwareCatalogView.viewName,
        sources: [
          { context: 'ota', aggregate: 'firmware' },
          { context: 'ota', aggregate: 'signing-key' },
        ],
        initialState: () => ({ products: new Map(), images: new Map(), delegations: new Map() }),
        evolve: (state, { event }) => (foldCatalog(state, event), state),
        checkpoint: { owner: 'ota', version: 1 },
      },
      logger ? { logger } : {},
    );
    return new FirmwareCatalogView(live);
  }

  /** A released image (registered and signed), or undefined. */
  released(firmwareId: string): Required<CatalogImage> | undefined {
    const entry = this.state.images.get(firmwareId);
    return entry?.release ? (entry as Required<CatalogImage>) : undefined;
  }

  /** Released images, newest first, optionally of one product. */
  list(product?: string): Required<CatalogImage>[] {
    return [...this.state.images.values()]
      .filter((entry): entry is Required<CatalogImage> => entry.release !== undefined)
      .filter((entry) => product === undefined || entry.image.product === product)
      .reverse();
  }

  delegation(keyId: string): D<typeof FirmwareSigningKeyDelegated> | undefined {
    return this.state.delegations.get(keyId);
  }
}
