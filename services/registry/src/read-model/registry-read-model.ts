import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { rebuildProjection, type EventStore, type Projection, type ProjectionDefinition, type Subscription } from '@tunnelkey/eventstore';
import { READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import { batchSummaryView, emptyStatusCounts, type BatchSummary, type BatchSummaryView } from '../batch-summary/batch-summary.view.js';
import { identityOf, isEnrolled, type DeviceIdentity, type DeviceState } from '../deciders/device-state.js';
import { deviceByIdView, deviceDetail, type DeviceByIdView, type DeviceDetail } from '../device-by-id/device-by-id.view.js';
import { enrolmentKeyRequestsView, type EnrolmentKeyRequestsView } from '../enrolment-key-requests/enrolment-key-requests.view.js';
import type { EnrolmentKeyRequest } from '../deciders/batch.decider.js';
import { REGISTRY_EVENT_STORE, REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';

export interface RegistryViews {
  devices: DeviceByIdView;
  batches: BatchSummaryView;
  requests: EnrolmentKeyRequestsView;
}

/** One projection over the registry's stream feeding every view: one replay and one consumer, not three. */
export const registryViewsProjection: ProjectionDefinition<RegistryViews> = {
  name: 'registry-views',
  context: 'registry',
  initialState: () => ({ devices: deviceByIdView.initialState(), batches: batchSummaryView.initialState(), requests: enrolmentKeyRequestsView.initialState() }),
  evolve(views, recorded) {
    deviceByIdView.evolve(views.devices, recorded);
    batchSummaryView.evolve(views.batches, recorded);
    enrolmentKeyRequestsView.evolve(views.requests, recorded);
    return views;
  },
};

const waitLimitMs = 10_000;

/**
 * The registry's in-process read model: rebuilt from the log at start (a replay), then kept
 * current by following the stream from right after what the replay applied (EventStore.follow;
 * the state lives in memory, so there is no durable position to keep). Projection.apply skips
 * what was already applied. Ready once the rebuild is done. Handlers that must read their own
 * writes (an import followed by another into the same batch) wait for the sequence they appended.
 */
@Injectable()
export class RegistryReadModel implements OnModuleInit, OnModuleDestroy {
  #projection: Projection<RegistryViews> | undefined;
  #tail: Subscription | undefined;
  #ready = false;
  readonly #waiters = new Set<{ sequence: number; resolve: () => void }>();

  constructor(
    @Inject(REGISTRY_EVENT_STORE) private readonly store: EventStore,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
    @Inject(READINESS_CHECKS) readiness: ReadinessRegistry,
  ) {
    readiness.add({ name: 'registry-read-model', ready: () => this.#ready });
  }

  #building: Promise<void> | undefined;

  /** Idempotent: the first call builds, later calls wait for it. */
  onModuleInit(): Promise<void> {
    this.#building ??= this.#build();
    return this.#building;
  }

  async #build(): Promise<void> {
    const started = Date.now();
    const projection = await rebuildProjection(this.store, registryViewsProjection);
    this.#projection = projection;
    // Rebuilt at every start, so no durable position: the store's follower (ordered, no ack per event).
    this.#tail = await this.store.follow(
      'registry',
      (recorded) => {
        if (projection.apply(recorded)) this.#progressed(projection.checkpoint);
      },
      { fromSequence: projection.checkpoint + 1 },
    );
    this.#ready = true;
    this.runtime.logger.info(
      { event: 'registry.read_model_rebuilt', checkpoint: projection.checkpoint, devices: projection.state.devices.devices.size, ms: Date.now() - started },
      'read model rebuilt from the log',
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.#ready = false;
    await this.#tail?.stop();
    this.#tail = undefined;
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters.clear();
  }

  get ready(): boolean {
    return this.#ready;
  }

  get checkpoint(): number {
    return this.#projection?.checkpoint ?? 0;
  }

  /** Resolves once the views include the event at `sequence` (bounded: a stuck consumer must not hang a command). */
  async caughtUpTo(sequence: number): Promise<void> {
    if (this.checkpoint >= sequence || !this.#tail) return;
    let waiter: { sequence: number; resolve: () => void } | undefined;
    const reached = new Promise<void>((resolve) => {
      waiter = { sequence, resolve };
      this.#waiters.add(waiter);
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), waitLimitMs);
    });
    const outcome = await Promise.race([reached, timedOut]);
    clearTimeout(timer);
    this.#waiters.delete(waiter!);
    if (outcome === 'timeout') {
      this.runtime.logger.warn({ event: 'registry.read_model_lagging', wanted: sequence, checkpoint: this.checkpoint }, 'read model did not catch up in time');
    }
  }

  // ---- queries ----

  device(deviceId: string): DeviceDetail | undefined {
    const entry = this.#views().devices.devices.get(deviceId);
    return entry ? deviceDetail(deviceId, entry) : undefined;
  }

  deviceState(deviceId: string): DeviceState | undefined {
    return this.#views().devices.devices.get(deviceId)?.state;
  }

  /** The device's state as the read model has it and the stream version it was folded to (Unknown at 0 when never seen). */
  knownDevice(deviceId: string): { state: DeviceState; version: number } {
    const entry = this.#views().devices.devices.get(deviceId);
    return entry ? { state: entry.state, version: entry.sequence } : { state: { status: 'Unknown' }, version: 0 };
  }

  /** Challenges sent and not answered yet (for the sweeper that records `no-response`). */
  pendingChallenges(): { deviceId: string; challengeId: string; expiresAt: string }[] {
    const pending: { deviceId: string; challengeId: string; expiresAt: string }[] = [];
    for (const [deviceId, { state }] of this.#views().devices.devices) {
      if (isEnrolled(state) && state.challenge) pending.push({ deviceId, challengeId: state.challenge.challengeId, expiresAt: state.challenge.expiresAt });
    }
    return pending;
  }

  /** The enrolment key the registry holds for a device, if any. */
  identity(deviceId: string): DeviceIdentity | undefined {
    const state = this.deviceState(deviceId);
    return state ? identityOf(state) : undefined;
  }

  batchOf(deviceId: string): string | undefined {
    const state = this.deviceState(deviceId);
    return state && isEnrolled(state) ? state.membership.batchId : undefined;
  }

  batchSummary(batchId: string): BatchSummary | undefined {
    const batch = this.#views().batches.batches.get(batchId);
    if (!batch) return undefined;
    const byStatus = emptyStatusCounts();
    for (const deviceId of batch.members) {
      const status = this.deviceState(deviceId)?.status;
      if (status) byStatus[status]++;
    }
    return { ...batch.definition, createdAt: batch.createdAt, imports: batch.imports, devices: batch.members.size, byStatus };
  }

  batchSummaries(): BatchSummary[] {
    return [...this.#views().batches.batches.keys()].map((batchId) => this.batchSummary(batchId)!);
  }

  batchMemberCount(batchId: string): number {
    return this.#views().batches.batches.get(batchId)?.members.size ?? 0;
  }

  batchMembers(batchId: string): string[] {
    return [...(this.#views().batches.batches.get(batchId)?.members ?? [])];
  }

  unassignedAnnouncedDevices(): string[] {
    return [...this.#views().devices.unassignedAnnounced];
  }

  enrolmentKeyRequest(requestId: string): (EnrolmentKeyRequest & { batchId: string }) | undefined {
    return this.#views().requests.requests.get(requestId);
  }

  #views(): RegistryViews {
    if (!this.#projection) throw new Error('registry read model queried before it was built');
    return this.#projection.state;
  }

  #progressed(checkpoint: number): void {
    for (const waiter of this.#waiters) {
      if (checkpoint >= waiter.sequence) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}
