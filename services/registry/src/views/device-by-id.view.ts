import { Inject, Injectable } from '@nestjs/common';
import type { EventStore, LiveViewDefinition } from '@tunnelkey/eventstore';
import { EVENT_STORE, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { deviceDecider, type DeviceEvent } from '../deciders/device.decider.js';
import {
  emptyStatusCounts,
  identityOf,
  isEnrolled,
  type DeviceIdentity,
  type DeviceState,
  type DeviceStatus,
} from '../deciders/device-state.js';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { RegistryView } from './registry-view.js';

export interface DeviceById {
  devices: Map<string, { state: DeviceState; updatedAt: string; sequence: number; lastUplinkCounter?: number }>;
  /** Announced and in no batch: who an enrolment-key request without device ids is sent to. */
  unassignedAnnounced: Set<string>;
  /** The devices of each batch (a revoked device stays in its batch, a transfer moves it). */
  byBatch: Map<string, Set<string>>;
  /** How many of each batch's devices are in each status, kept with every event (a summary costs O(1), not O(batch)). */
  statusCountsByBatch: Map<string, Record<DeviceStatus, number>>;
}

/**
 * Query: one device by id (and, from the same states, the devices of a batch, the announced devices
 * no batch has claimed, the pending challenges). Folds the device decider's own `evolve`, so it can
 * never disagree with the aggregate about a status. The batch-summary view counts on it.
 */
export const deviceByIdDefinition: LiveViewDefinition<DeviceById> = {
  name: 'registry-device-by-id',
  sources: [{ context: 'registry', aggregate: 'device' }],
  // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
  // when the state or evolve changes.
  // 2: devices keep the certificate a renewal replaced (previousCertificate).
  // 3: a pending challenge keeps when it was issued (issuedAt).
  checkpoint: { owner: 'registry', version: 3 },
  initialState: () => ({
    devices: new Map(),
    unassignedAnnounced: new Set(),
    byBatch: new Map(),
    statusCountsByBatch: new Map(),
  }),
  // Mutates in place: an in-process view of thousands of devices is not copied per event.
  evolve(view, recorded) {
    const { event } = recorded;
    const deviceId = event.aggregateId;
    const previous = view.devices.get(deviceId)?.state ?? deviceDecider.initialState();
    const state = deviceDecider.evolve(previous, event as DeviceEvent);
    const lastUplinkCounter = Math.max(
      view.devices.get(deviceId)?.lastUplinkCounter ?? -1,
      uplinkCounterOf(deviceId, event.causationId) ?? -1,
    );
    view.devices.set(deviceId, {
      state,
      updatedAt: event.occurredAt,
      sequence: recorded.sequence,
      ...(lastUplinkCounter >= 0 ? { lastUplinkCounter } : {}),
    });
    if (state.status === 'Announced') view.unassignedAnnounced.add(deviceId);
    else view.unassignedAnnounced.delete(deviceId);
    const [before, after] = [batchOf(previous), batchOf(state)];
    if (before !== after) {
      if (before) view.byBatch.get(before)?.delete(deviceId);
      if (after) view.byBatch.set(after, (view.byBatch.get(after) ?? new Set()).add(deviceId));
    }
    if (before !== after || previous.status !== state.status) {
      if (before) statusCounts(view, before)[previous.status]--;
      if (after) statusCounts(view, after)[state.status]++;
    }
    return view;
  },
};

function statusCounts(view: DeviceById, batchId: string): Record<DeviceStatus, number> {
  let counts = view.statusCountsByBatch.get(batchId);
  if (!counts) view.statusCountsByBatch.set(batchId, (counts = emptyStatusCounts()));
  return counts;
}

/** What the device query answers: public data only (no nonce digests, no challenge internals). */
export interface DeviceDetail {
  deviceId: string;
  status: DeviceStatus;
  batchId?: string;
  source?: string;
  enrolmentPublicKey?: string;
  enrolmentKeyDigest?: string;
  firmwareMeasurement?: string;
  metadata?: Record<string, string>;
  challengePending: boolean;
  verifiedAt?: string;
  lastVerificationFailure?: { reason: string; at: string };
  certificate?: {
    authorityId: string;
    serialNumber: string;
    fingerprintSha256: string;
    notAfter: string;
    certifiedAt: string;
  };
  /** The certificate the current one replaced (a renewal), when there was one. */
  previousCertificate?: DeviceDetail['certificate'];
  revocation?: { revocationId: string; reason: string; revokedAt: string };
  updatedAt: string;
}

/** A device's pending challenge ended: answered, failed for good, expired, superseded by another, or the device revoked. */
export type ChallengeClosedListener = (deviceId: string, challengeId: string) => void;

export interface PendingChallengeRef {
  deviceId: string;
  challengeId: string;
  expiresAt: string;
  issuedAt?: string;
}

@Injectable()
export class DeviceByIdView extends RegistryView<DeviceById> {
  readonly #closedListeners: Set<ChallengeClosedListener>;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    streams: RegistryStreams,
    @Inject(READINESS_CHECKS) readiness: ReadinessRegistry,
    @Inject(REGISTRY_LOGGER) logger: Logger,
  ) {
    const listeners = new Set<ChallengeClosedListener>();
    super(
      {
        ...deviceByIdDefinition,
        // The same fold, telling the listeners when a device's pending challenge ends.
        evolve(view, recorded) {
          const deviceId = recorded.event.aggregateId;
          const before = pendingChallengeId(view.devices.get(deviceId)?.state);
          const next = deviceByIdDefinition.evolve(view, recorded);
          if (before !== undefined && before !== pendingChallengeId(next.devices.get(deviceId)?.state)) {
            for (const listener of listeners) listener(deviceId, before);
          }
          return next;
        },
      },
      store,
      streams,
      readiness,
      logger,
    );
    this.#closedListeners = listeners;
  }

  /** Called once each time a device's pending challenge ends (as the view folds it); returns the unsubscribe. */
  onChallengeClosed(listener: ChallengeClosedListener): () => void {
    this.#closedListeners.add(listener);
    return () => this.#closedListeners.delete(listener);
  }

  /** The challenge the device has pending, as far as the view has folded. */
  pendingChallengeOf(deviceId: string): string | undefined {
    return pendingChallengeId(this.state.devices.get(deviceId)?.state);
  }

  device(deviceId: string): DeviceDetail | undefined {
    const entry = this.state.devices.get(deviceId);
    return entry ? deviceDetail(deviceId, entry) : undefined;
  }

  deviceState(deviceId: string): DeviceState | undefined {
    return this.state.devices.get(deviceId)?.state;
  }

  /** The device's state and the stream version it was folded to (Unknown at 0 when never seen). */
  known(deviceId: string): { state: DeviceState; version: number } {
    const entry = this.state.devices.get(deviceId);
    return entry
      ? { state: entry.state, version: entry.sequence }
      : { state: deviceDecider.initialState(), version: 0 };
  }

  /** The enrolment key the registry holds for a device, if any. */
  identity(deviceId: string): DeviceIdentity | undefined {
    const state = this.deviceState(deviceId);
    return state ? identityOf(state) : undefined;
  }

  /** Challenges sent and not answered yet (for the job that records `no-response`). */
  pendingChallenges(): PendingChallengeRef[] {
    const pending: PendingChallengeRef[] = [];
    for (const [deviceId, { state }] of this.state.devices) {
      if (isEnrolled(state) && state.challenge) {
        const { challengeId, expiresAt, issuedAt } = state.challenge;
        pending.push({ deviceId, challengeId, expiresAt, ...(issuedAt ? { issuedAt } : {}) });
      }
    }
    return pending;
  }

  /**
   * The highest counter of this device's signed messages the log holds an effect of (events
   * caused by an uplink carry its counter in their causation id): the replay floor after a restart.
   */
  lastUplinkCounter(deviceId: string): number | undefined {
    return this.state.devices.get(deviceId)?.lastUplinkCounter;
  }

  unassignedAnnounced(): string[] {
    return [...this.state.unassignedAnnounced];
  }

  batchMembers(batchId: string): ReadonlySet<string> {
    return this.state.byBatch.get(batchId) ?? noMembers;
  }

  /** How many of the batch's devices are in each status (a copy). */
  batchStatusCounts(batchId: string): Record<DeviceStatus, number> {
    return { ...(this.state.statusCountsByBatch.get(batchId) ?? emptyStatusCounts()) };
  }
}

const noMembers: ReadonlySet<string> = new Set();

function pendingChallengeId(state: DeviceState | undefined): string | undefined {
  return state && isEnrolled(state) ? state.challenge?.challengeId : undefined;
}

/** `dev-<deviceId>_<kind>-<counter>`, as uplinkMetadata derives it (a hashed id, when too long, names no counter). */
const uplinkCausation = /^dev-(.+)_[a-z][a-z-]*-(\d{1,15})$/;

function uplinkCounterOf(deviceId: string, causationId: string | undefined): number | undefined {
  const match = causationId ? uplinkCausation.exec(causationId) : null;
  return match && match[1] === deviceId ? Number(match[2]) : undefined;
}

/** The batch a device belongs to, whatever its status (a revoked device keeps its batch). */
function batchOf(state: DeviceState): string | undefined {
  if (isEnrolled(state)) return state.membership.batchId;
  return state.status === 'Revoked' ? state.membership?.batchId : undefined;
}

export function deviceDetail(deviceId: string, entry: { state: DeviceState; updatedAt: string }): DeviceDetail {
  const { state, updatedAt } = entry;
  const identity = identityOf(state);
  const enrolled = isEnrolled(state) ? state : undefined;
  const membership = enrolled?.membership ?? (state.status === 'Revoked' ? state.membership : undefined);
  return {
    deviceId,
    status: state.status,
    ...(membership ? { batchId: membership.batchId, source: membership.source } : {}),
    ...(membership?.metadata ? { metadata: membership.metadata } : {}),
    ...(identity
      ? { enrolmentPublicKey: identity.enrolmentPublicKey, enrolmentKeyDigest: identity.enrolmentKeyDigest }
      : {}),
    ...(identity?.firmwareMeasurement ? { firmwareMeasurement: identity.firmwareMeasurement } : {}),
    challengePending: enrolled?.challenge !== undefined,
    ...(enrolled?.verifiedAt ? { verifiedAt: enrolled.verifiedAt } : {}),
    ...(enrolled?.lastFailure
      ? { lastVerificationFailure: { reason: enrolled.lastFailure.reason, at: enrolled.lastFailure.at } }
      : {}),
    ...(enrolled?.certificate ? { certificate: enrolled.certificate } : {}),
    ...(enrolled?.previousCertificate ? { previousCertificate: enrolled.previousCertificate } : {}),
    ...(state.status === 'Revoked' ? { revocation: state.revocation } : {}),
    updatedAt,
  };
}
