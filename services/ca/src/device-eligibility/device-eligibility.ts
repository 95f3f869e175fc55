/**
 * The CA's live view of registry facts: rebuilt from the log at start (ordered replay), then kept
 * current by a follower (no durable position: the view is rebuilt at every start, and a durable's
 * one-event-at-a-time acks capped it at a few thousand events/s, stalling CertifyDevices at 2,000+ devices). Lookups are synchronous Map reads, so a CSR never waits on
 * the projection unless it finds something the projection may simply not have seen yet.
 */
import type { CertifyDevices, CommandOf } from '@tunnelkey/contracts';
import { importVerifyKey, type CryptoKey } from '@tunnelkey/device-protocol';
import { Projection, rebuildProjection, type EventStore, type Subscription } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import {
  deviceEligibilityProjection,
  type BatchRecord,
  type DeviceEligibilityState,
  type DeviceRecord,
  type PolicyRecord,
} from './device-eligibility.projection.js';

/** Which devices a bulk command names (contracts' DeviceScope). */
export type DeviceScope = CommandOf<typeof CertifyDevices>['scope'];

export interface DeviceFacts {
  device?: DeviceRecord;
  batch?: BatchRecord;
  policy?: PolicyRecord;
  /** The batch owner, or the new owner after a transfer. */
  ownerId?: string;
}

export class DeviceEligibility {
  #projection: Projection<DeviceEligibilityState>;
  #subscription: Subscription | undefined;
  #ready = false;
  #syncing: Promise<void> | undefined;
  // Imported verify keys, per device and key digest (a re-import with a new key gets a new entry).
  readonly #keys = new Map<string, { digest: string; key: Promise<CryptoKey> }>();

  private constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
    projection: Projection<DeviceEligibilityState>,
  ) {
    this.#projection = projection;
  }

  /**
   * Replays the registry context, then follows it from the checkpoint (every CA instance follows
   * every event). Resolves once caught up with what was in the log.
   */
  static async start(options: { store: EventStore; logger: Logger }): Promise<DeviceEligibility> {
    const started = Date.now();
    const projection = await rebuildProjection(options.store, deviceEligibilityProjection);
    const eligibility = new DeviceEligibility(options.store, options.logger, projection);
    eligibility.#subscription = await options.store.follow(deviceEligibilityProjection.context, (recorded) => void projection.apply(recorded), {
      fromSequence: projection.checkpoint + 1,
    });
    await eligibility.#subscription.caughtUp();
    eligibility.#ready = true;
    options.logger.info(
      { event: 'ca.eligibility_ready', devices: projection.state.devices.size, checkpoint: projection.checkpoint, ms: Date.now() - started },
      'device eligibility projection caught up',
    );
    return eligibility;
  }

  /** For readiness: rebuilt and caught up at least once. */
  get ready(): boolean {
    return this.#ready;
  }

  get checkpoint(): number {
    return this.#projection.checkpoint;
  }

  /** Waits until the projection has applied everything in the registry log now; concurrent callers share one wait. */
  syncNow(): Promise<void> {
    if (!this.#subscription) return Promise.resolve();
    this.#syncing ??= this.#subscription.caughtUp().finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  facts(deviceId: string): DeviceFacts {
    const state = this.#projection.state;
    const device = state.devices.get(deviceId);
    if (!device) return {};
    const batch = device.batchId ? state.batches.get(device.batchId) : undefined;
    const policy = batch ? state.policies.get(batch.policyId) : undefined;
    const ownerId = device.ownerId ?? batch?.ownerId;
    return { device, ...(batch ? { batch } : {}), ...(policy ? { policy } : {}), ...(ownerId ? { ownerId } : {}) };
  }

  /** Device ids a CertifyDevices scope names (devices the CA has never heard of are left out). */
  devicesInScope(scope: DeviceScope): string[] {
    const state = this.#projection.state;
    switch (scope.kind) {
      case 'device':
        return state.devices.has(scope.deviceId) ? [scope.deviceId] : [];
      case 'devices':
        return [...new Set(scope.deviceIds)].filter((id) => state.devices.has(id));
      case 'batch':
        return [...(state.devicesByBatch.get(scope.batchId) ?? [])];
      default: {
        const unknown: never = scope;
        return unknown;
      }
    }
  }

  /** Owners of every batch known: each gets an issuing CA at start. */
  owners(): string[] {
    return [...new Set([...this.#projection.state.batches.values()].map((b) => b.ownerId))];
  }

  /** The device's enrolment key as a verify key, imported once per key. */
  enrolmentKey(device: DeviceRecord): Promise<CryptoKey> {
    const cached = this.#keys.get(device.deviceId);
    if (cached && cached.digest === device.enrolmentKeyDigest) return cached.key;
    const key = importVerifyKey(device.enrolmentPublicKey);
    key.catch(() => this.#keys.delete(device.deviceId));
    this.#keys.set(device.deviceId, { digest: device.enrolmentKeyDigest, key });
    return key;
  }

  async stop(): Promise<void> {
    this.#ready = false;
    await this.#subscription?.stop();
    this.#subscription = undefined;
    this.logger.debug({ event: 'ca.eligibility_stopped', store: this.store.constructor.name }, 'eligibility stopped');
  }
}
