/**
 * Where each revocation stands and what the saga needs to know about the other contexts: registry
 * devices and batches, the CA's RevocationApplied, onboarding's targets per device and the CRLs
 * targets enforce, and the saga states themselves. One read model on the event store's LiveView
 * (rebuilt from the four logs at every start, then followed; no durable consumer), answering the
 * revocation queries, the RevokeDevice/RevokeBatch checks and the saga's next step.
 */
import type { BoundedContext } from '@tunnelkey/contracts';
import {
  BatchCreated,
  DeviceAnnounced,
  DeviceDeprovisioned,
  DeviceIdentityImported,
  DeviceOnboarded,
  DeviceRevoked,
  EnrolmentKeyReported,
  RevocationApplied,
  TargetCrlUpdated,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { LiveView, type EventStore, type LiveViewSource, type RecordedEvent } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import {
  initialRevocationState,
  revocationDecider,
  type RevocationEvent,
  type RevocationState,
} from '../deciders/revocation.decider.js';

export interface DeviceStatus {
  batchId?: string;
  /** The registry's DeviceRevoked, once recorded. */
  registryRevocation?: DataOf<typeof DeviceRevoked>;
  /** Targets the device is onboarded to -> whether it was deprovisioned there since. */
  targets: Map<string, { deprovisioned: boolean }>;
  /** The revocation (saga) that covers the device, the first one. */
  revocationId?: string;
}

export interface TargetStatus {
  /** Highest CRL number enforced, per authority (a CA's: the target enforces the revocations it lists). */
  crls: Map<string, number>;
}

/** The saga's own events: the only ones in the revocation log. */
const revocationEventTypes = new Set([
  'RevocationRequested',
  'RevocationStepCompleted',
  'RevocationCompleted',
  'RevocationStalled',
  'RevocationEscalated',
]);
const isRevocationEvent = (event: EventEnvelope): event is RevocationEvent => revocationEventTypes.has(event.type);

/** The view's state. Mutable and in-process; every fold is idempotent. */
export class RevocationStatusState {
  readonly devices = new Map<string, DeviceStatus>();
  readonly batches = new Map<string, Set<string>>();
  readonly targets = new Map<string, TargetStatus>();
  readonly applied = new Map<string, DataOf<typeof RevocationApplied>>();
  readonly revocations = new Map<string, RevocationState>();

  device(deviceId: string): DeviceStatus {
    let device = this.devices.get(deviceId);
    if (!device) this.devices.set(deviceId, (device = { targets: new Map() }));
    return device;
  }

  target(targetId: string): TargetStatus {
    let target = this.targets.get(targetId);
    if (!target) this.targets.set(targetId, (target = { crls: new Map() }));
    return target;
  }

  revocation(revocationId: string): RevocationState {
    return this.revocations.get(revocationId) ?? initialRevocationState();
  }

  /** Folds any context's event; returns the revocations it may move forward. */
  fold(event: EventEnvelope): string[] {
    if (isRevocationEvent(event)) {
      const state = revocationDecider.evolve(this.revocation(event.aggregateId), event);
      this.revocations.set(event.aggregateId, state);
      if (event.type === 'RevocationRequested') {
        for (const deviceId of state.deviceIds) this.device(deviceId).revocationId ??= event.aggregateId;
      }
      return [event.aggregateId];
    }
    if (DeviceIdentityImported.is(event) || EnrolmentKeyReported.is(event)) {
      const { deviceId, batchId } = event.data;
      const device = this.device(deviceId);
      if (device.batchId && device.batchId !== batchId) this.batches.get(device.batchId)?.delete(deviceId);
      device.batchId = batchId;
      let members = this.batches.get(batchId);
      if (!members) this.batches.set(batchId, (members = new Set()));
      members.add(deviceId);
      return [];
    }
    if (DeviceAnnounced.is(event)) {
      this.device(event.data.deviceId);
      return [];
    }
    if (BatchCreated.is(event)) {
      if (!this.batches.has(event.data.batchId)) this.batches.set(event.data.batchId, new Set());
      return [];
    }
    if (DeviceRevoked.is(event)) {
      const device = this.device(event.data.deviceId);
      device.registryRevocation ??= event.data;
      return [event.data.revocationId, ...(device.revocationId ? [device.revocationId] : [])];
    }
    if (RevocationApplied.is(event)) {
      this.applied.set(event.data.revocationId, event.data);
      return [event.data.revocationId];
    }
    if (DeviceOnboarded.is(event)) {
      const device = this.device(event.data.deviceId);
      device.targets.set(event.data.targetId, { deprovisioned: false });
      return device.revocationId ? [device.revocationId] : [];
    }
    if (DeviceDeprovisioned.is(event)) {
      const device = this.device(event.data.deviceId);
      if (device.targets.has(event.data.targetId)) device.targets.set(event.data.targetId, { deprovisioned: true });
      return device.revocationId ? [device.revocationId] : [];
    }
    if (TargetCrlUpdated.is(event)) {
      const crls = this.target(event.data.targetId).crls;
      crls.set(event.data.authorityId, Math.max(crls.get(event.data.authorityId) ?? 0, event.data.crlNumber));
      // Any revocation waiting for CRLs may be concerned; there are few open at a time.
      return [...this.revocations.values()].filter((r) => r.status === 'CrlPublished').map((r) => r.revocationId!);
    }
    return [];
  }

  /** Is the device revoked or being revoked? Returns the revocation that covers it. */
  coveringRevocation(deviceId: string): string | undefined {
    const device = this.devices.get(deviceId);
    return device?.revocationId ?? device?.registryRevocation?.revocationId;
  }

  openRevocations(): string[] {
    return [...this.revocations.values()]
      .filter((r) => r.status !== 'Completed' && r.status !== 'None')
      .map((r) => r.revocationId!);
  }
}

/** The contexts this service reads (and, for `revocation`, writes): their streams are ensured at start. */
export const revocationContexts: readonly BoundedContext[] = ['revocation', 'ca', 'registry', 'onboarding'];

/** Its own log, the CA's answers (revocation aggregates only), the registry's devices, onboarding's targets. */
const sources: readonly LiveViewSource[] = [
  { context: 'revocation' },
  { context: 'ca', aggregate: 'revocation' },
  { context: 'registry' },
  { context: 'onboarding' },
];

type Listener = (revocationIds: readonly string[]) => void;

export class RevocationStatusView {
  #live: LiveView<RevocationStatusState> | undefined;
  readonly #listeners = new Set<Listener>();
  /** Own writes a handler waits to see folded in: sequence in the revocation stream -> resolvers. */
  #waiting: { sequence: number; resolve: () => void }[] = [];
  #revocationSequence = 0;

  static readonly viewName = 'revocation-status';

  /** Ensures the streams, rebuilds the view and follows the logs. */
  static async start(store: EventStore, logger?: Logger): Promise<RevocationStatusView> {
    const view = new RevocationStatusView();
    await store.ensureStreams(revocationContexts);
    view.#live = await LiveView.start(
      store,
      {
        name: RevocationStatusView.viewName,
        sources,
        initialState: () => new RevocationStatusState(),
        evolve: (state, recorded) => view.#evolve(state, recorded),
      },
      logger ? { logger } : {},
    );
    return view;
  }

  get state(): RevocationStatusState {
    return this.#live?.state ?? new RevocationStatusState();
  }

  get ready(): boolean {
    return this.#live?.ready ?? false;
  }

  /** Resolves once every event in the four logs (or the `contexts` given) at the time of the call is folded in. */
  catchUp(contexts?: readonly BoundedContext[]): Promise<void> {
    const only = contexts && sources.filter((source) => contexts.includes(source.context));
    return this.#live ? this.#live.catchUp(only) : Promise.resolve();
  }

  /** Resolves once the view folded the revocation log up to `sequence` (a handler's own append). */
  caughtUpToRevocation(sequence: number): Promise<void> {
    if (this.#revocationSequence >= sequence || !this.#live) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push({ sequence, resolve }));
  }

  /** Calls `listener` with the revocations each folded event may move forward; returns the unsubscribe. */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Nest stops the view with the module. */
  onModuleDestroy(): Promise<void> {
    return this.stop();
  }

  async stop(): Promise<void> {
    await this.#live?.stop();
    // Nobody waits forever on a view that stopped.
    for (const waiter of this.#waiting.splice(0)) waiter.resolve();
  }

  #evolve(state: RevocationStatusState, recorded: RecordedEvent): RevocationStatusState {
    const touched = state.fold(recorded.event);
    if (isRevocationEvent(recorded.event)) this.#revocationSequence = recorded.sequence;
    if (touched.length) for (const listener of this.#listeners) listener(touched);
    if (this.#waiting.length) {
      const due = this.#waiting.filter((w) => w.sequence <= this.#revocationSequence);
      this.#waiting = this.#waiting.filter((w) => w.sequence > this.#revocationSequence);
      for (const waiter of due) waiter.resolve();
    }
    return state;
  }
}
