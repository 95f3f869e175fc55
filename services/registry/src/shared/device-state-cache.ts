import { Injectable } from '@nestjs/common';
import { AggregateStateCache } from '@tunnelkey/eventstore';
import type { DeviceState } from '../deciders/device-state.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';
import { deviceStream } from './registry-streams.js';

/**
 * handleCommand's state cache for device streams, filled from the device-by-id view: bulk commands
 * (10,000 devices per import or verify) decide on the state the view already holds and append with
 * the version it was folded to, instead of reading each device first. A stale entry costs one
 * failed append and a fresh load; a refusal or a no-op is always checked against the log.
 */
@Injectable()
export class DeviceStateCache {
  readonly #cache = new AggregateStateCache<DeviceState>({ maxStreams: 100_000 });

  constructor(private readonly devices: DeviceByIdView) {}

  /** The cache, holding an entry for the device (what this process wrote last, else what the view knows). */
  for(deviceId: string): AggregateStateCache<DeviceState> {
    const stream = deviceStream(deviceId);
    if (!this.#cache.get(stream)) {
      const { state, version } = this.devices.known(deviceId);
      // No recent command ids: a retry is then recognised by the decision (a no-op) or by dedup.
      this.#cache.set(stream, { state, version, recentCommandIds: [], foldedSinceSnapshot: 0 });
    }
    return this.#cache;
  }
}
