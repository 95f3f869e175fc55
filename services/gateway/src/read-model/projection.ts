import type { BoundedContext, EventEnvelope } from '@tunnelkey/contracts';

/**
 * A change to one read-model document, shaped like a MongoDB update (`$set`/`$inc` with dotted
 * paths) so the same projection feeds the embedded store and, later, MongoDB unchanged.
 */
export interface ProjectionWrite {
  collection: string;
  id: string;
  /** Fields to set; dotted paths reach into nested objects (`targets.broker-1.connected`). */
  set?: Record<string, unknown>;
  /** Numeric fields to add to (created at 0). */
  inc?: Record<string, number>;
}

/** Read access to the documents a projection has written so far (its own collections only). */
export type DocumentLookup = <T>(collection: string, id: string) => T | undefined;

/**
 * A read model's definition: a pure function from one recorded event to the writes it causes.
 * It may look at the documents it wrote before (e.g. a device's previous state to move a batch's
 * counters), never at the clock or the bus, so a rebuild from the log gives the same result.
 */
export interface GatewayProjection {
  name: string;
  contexts: readonly BoundedContext[];
  collections: readonly string[];
  project(event: EventEnvelope, position: { context: BoundedContext; sequence: number }, lookup: DocumentLookup): ProjectionWrite[];
}
