import type { FactoryProvider, InjectionToken } from '@nestjs/common';
import type { EventStore } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import { EVENT_STORE, READINESS_CHECKS, type ReadinessRegistry } from './platform.module.js';
import { storeForView } from './store-metrics.js';

/** What /ready needs of a view. A view stops itself in `onModuleDestroy`. */
export interface ReadyView {
  readonly ready: boolean;
  /** Resolves once every event in the log at the time of the call is folded in. */
  catchUp(): Promise<void>;
}

/** A read-model class: its name (in /ready and logs) and how it starts on the event store (LiveView underneath). */
export interface ViewType<V extends ReadyView> {
  readonly viewName: string;
  start(store: EventStore, logger: Logger): Promise<V>;
}

/**
 * A service's read model as a Nest provider, the class being its token: started (rebuilt from the
 * log, then followed) when the module is created, before anything that injects it, and listed in
 * /ready under its name (not ready until rebuilt, nor after a reconnect until caught up). `after`: providers that must exist first (the service's streams ensured).
 */
export function viewProvider<V extends ReadyView>(
  type: ViewType<V>,
  deps: { logger: InjectionToken; after?: readonly InjectionToken[] },
): FactoryProvider<V> {
  return {
    // The class itself (private constructors included) is the token handlers inject.
    provide: type as unknown as InjectionToken,
    inject: [EVENT_STORE, READINESS_CHECKS, deps.logger, ...(deps.after ?? [])],
    useFactory: async (store: EventStore, readiness: ReadinessRegistry, logger: Logger) => {
      // Its followers labelled with its name: its lag in /metrics (eventstore_consumer_lag_events).
      const view = await type.start(storeForView(store, type.viewName), logger);
      readiness.addFollower(
        type.viewName,
        () => view.ready,
        () => view.catchUp(),
      );
      return view;
    },
  };
}
