import { Inject, Injectable } from '@nestjs/common';
import type { BoundedContext } from '@tunnelkey/contracts';
import type { EventStore, StreamRef } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';

// The one place the registry names its aggregates' streams; writers and readers both call these.
export const policyStream = (policyId: string): StreamRef => ({
  context: 'registry',
  aggregate: 'policy',
  id: policyId,
});
export const batchStream = (batchId: string): StreamRef => ({ context: 'registry', aggregate: 'batch', id: batchId });
export const deviceStream = (deviceId: string): StreamRef => ({
  context: 'registry',
  aggregate: 'device',
  id: deviceId,
});

/** One owner's custody keys. */
export const ownerStream = (ownerId: string): StreamRef => ({ context: 'registry', aggregate: 'owner', id: ownerId });

export const integrityStream = (deviceId: string): StreamRef => ({
  context: 'registry',
  aggregate: 'integrity',
  id: deviceId,
});

/**
 * What the registry writes (registry) and reads (the CA's certificates, the revocation saga's
 * steps, the releases OTA installed: what integrity monitoring expects a device to report).
 */
export const registryContexts: readonly BoundedContext[] = ['registry', 'ca', 'revocation', 'ota'];

/**
 * Makes sure the streams the registry uses exist, once per process, before a view rebuilds or a
 * reaction subscribes (the registry may start before the CA or the revocation service).
 */
@Injectable()
export class RegistryStreams {
  #ensured: Promise<void> | undefined;

  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  ensured(): Promise<void> {
    this.#ensured ??= this.store.ensureStreams(registryContexts);
    return this.#ensured;
  }
}
