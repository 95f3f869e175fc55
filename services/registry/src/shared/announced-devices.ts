import { Inject, Injectable } from '@nestjs/common';
import type { RegistryConfig } from '../config.js';
import { REGISTRY_CONFIG } from '../tokens.js';

/**
 * Devices unknown to the registry that announced themselves: kept in memory only (anyone can
 * generate a key and announce it, so nothing is written to the log for them), at most
 * `trackedDevices`, each for `announcementTtlSeconds`. Whom an open enrolment-key request is sent
 * to. Per replica and lost at restart: a device announces again.
 */
@Injectable()
export class AnnouncedDevices {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(@Inject(REGISTRY_CONFIG) config: Pick<RegistryConfig, 'trackedDevices' | 'announcementTtlSeconds'>) {
    this.#ttlMs = config.announcementTtlSeconds * 1000;
    this.#max = config.trackedDevices;
  }

  remember(deviceId: string, now: Date): void {
    this.#seen.delete(deviceId); // re-inserted: the map's order is the order of the last announcement
    while (this.#seen.size >= this.#max) this.#seen.delete(this.#seen.keys().next().value as string);
    this.#seen.set(deviceId, now.getTime());
  }

  /** Devices that announced within the time to live, oldest first; expired ones are dropped. */
  recent(now: Date): string[] {
    const since = now.getTime() - this.#ttlMs;
    for (const [deviceId, at] of this.#seen) {
      if (at >= since) break;
      this.#seen.delete(deviceId);
    }
    return [...this.#seen.keys()];
  }

  get size(): number {
    return this.#seen.size;
  }
}
