/**
 * What the ownership-transfer views share (the CA's transfer revocations, onboarding's transfer
 * deprovisionings): each folds its sources into every transferred device's last transfer and the
 * devices that still owe work for it; a ViewDrivenJob works on `owed()` until it is empty, and
 * hears through `onOwed` of a device that comes to owe (live, and while the view rebuilds) rather
 * than at its next sweep. What makes a device owe is each view's own fold.
 */
import type { EventStore, LiveViewDefinition, RecordedEvent } from '@tunnelkey/eventstore';
import { LiveView } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import { InMemoryView } from './in-memory-view.js';

/** What every transfer view's state holds: what this class reads and `updateOwed` keeps. */
export interface TransferWorkState<T> {
  /** Transferred devices only: each one's last transfer, by device id. */
  transfers: Map<string, T>;
  /** The devices that owe work for their last transfer now. */
  owed: Set<string>;
}

export type OwedListener<T> = (transfer: T) => void;

/**
 * A fold's last step for the device an event touched: whether it owes work now (what makes it owe
 * is the fold's own); `becameOwed` hears of it when it did not before.
 */
export function updateOwed<T>(
  state: TransferWorkState<T>,
  deviceId: string,
  owes: boolean,
  becameOwed: OwedListener<T>,
): void {
  if (!owes) {
    state.owed.delete(deviceId);
    return;
  }
  if (state.owed.has(deviceId)) return;
  state.owed.add(deviceId);
  becameOwed(state.transfers.get(deviceId)!);
}

/** A LiveView definition whose fold says when a device comes to owe. */
export interface TransferWorkDefinition<S, T> extends Omit<LiveViewDefinition<S>, 'evolve'> {
  /** Folds one event in place; `becameOwed` hears of a device that owes work now and did not before. */
  fold(state: S, event: RecordedEvent['event'], becameOwed: OwedListener<T>): void;
}

export abstract class TransferWorkView<S extends TransferWorkState<T>, T> extends InMemoryView<S> {
  protected constructor(
    live: LiveView<S>,
    private readonly listeners: Set<OwedListener<T>>,
  ) {
    super(live);
  }

  /** Starts the LiveView (rebuilt, then followed) and makes the view on it with `create` (its constructor). */
  protected static async startLive<V, S extends TransferWorkState<T>, T>(
    store: EventStore,
    { fold, ...definition }: TransferWorkDefinition<S, T>,
    logger: Logger | undefined,
    create: (live: LiveView<S>, listeners: Set<OwedListener<T>>) => V,
  ): Promise<V> {
    const listeners = new Set<OwedListener<T>>();
    const live = await LiveView.start<S>(
      store,
      {
        ...definition,
        evolve(state, { event }) {
          fold(state, event, (transfer) => {
            for (const listener of listeners) listener(transfer);
          });
          return state;
        },
      },
      logger ? { logger } : {},
    );
    return create(live, listeners);
  }

  /** Every device that owes work now, as its last transfer. */
  owed(): T[] {
    return [...this.state.owed].map((deviceId) => this.state.transfers.get(deviceId)!);
  }

  /** Called when a device comes to owe (live, and while the view rebuilds); returns the unsubscribe. */
  onOwed(listener: OwedListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
