/**
 * Query: which certificates has the CA issued that the registry has not recorded yet? A certificate
 * is unrecorded while the CA's CertificateIssued (`ca.device.<id>`) has no DeviceCertified with its
 * serial on the device (`registry.device.<id>`), and the device is not revoked (the registry
 * refuses to record for a revoked device, so none is owed). Folded from both logs in a LiveView
 * (checkpointed), whatever order the two streams arrive in: the answer depends on the state
 * reached, not on the path. The record-certificates job records what this lists until it lists
 * nothing; the DeviceCertified events it writes take each certificate off.
 *
 * Why a view and not a durable on the CA's stream: the durable held one event in flight, so every
 * certified device cost a delivery, an acknowledgement and a pull, one round trip to the bus each,
 * and the devices were recorded one after another. This view's feed of `registry:device` is shared
 * with the device-by-id view (one consumer, one decode); its `ca:device` feed is an ordered
 * consumer (no acknowledgements), and the job records many devices at once.
 */
import {
  CertificateIssued,
  DeviceCertified,
  DeviceRevoked,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import type { EventStore, LiveViewDefinition } from '@tunnelkey/eventstore';
import { EVENT_STORE, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { RegistryView } from './registry-view.js';

/** What recording a certificate needs: DeviceCertified's data, and the CA event it derives from. */
export interface UnrecordedCertificate {
  deviceId: string;
  authorityId: string;
  serialNumber: string;
  fingerprintSha256: string;
  notAfter: string;
  /** The CA's CertificateIssued: its id derives the command id (a second attempt writes nothing). */
  issuedEventId: string;
  correlationId: string;
}

export interface UnrecordedCertificatesState {
  /** Per device, its unrecorded certificates by serial, in the CA's log order. */
  unrecorded: Map<string, Map<string, UnrecordedCertificate>>;
  /** Serials the registry recorded before this view saw the CA's event (the registry feed ahead). */
  recordedAhead: Map<string, Set<string>>;
  /** Revoked devices: nothing is owed to them. */
  revoked: Set<string>;
}

export type UnrecordedListener = (deviceId: string) => void;

export const initialUnrecordedCertificatesState = (): UnrecordedCertificatesState => ({
  unrecorded: new Map(),
  recordedAhead: new Map(),
  revoked: new Set(),
});

/**
 * Folds one registry-device or CA-device event (in place); `listed` hears of each certificate that
 * becomes unrecorded. The store has validated each event against its contract already.
 */
export function foldUnrecordedCertificates(
  state: UnrecordedCertificatesState,
  event: EventEnvelope,
  listed: UnrecordedListener = () => undefined,
): void {
  switch (event.type) {
    case CertificateIssued.type: {
      const d = event.data as DataOf<typeof CertificateIssued>;
      if (state.revoked.has(d.deviceId)) return;
      const ahead = state.recordedAhead.get(d.deviceId);
      if (ahead?.delete(d.serialNumber)) {
        if (ahead.size === 0) state.recordedAhead.delete(d.deviceId);
        return;
      }
      let certificates = state.unrecorded.get(d.deviceId);
      if (!certificates) state.unrecorded.set(d.deviceId, (certificates = new Map()));
      if (certificates.has(d.serialNumber)) return;
      const { deviceId, authorityId, serialNumber, fingerprintSha256, notAfter } = d;
      certificates.set(serialNumber, {
        deviceId,
        authorityId,
        serialNumber,
        fingerprintSha256,
        notAfter,
        issuedEventId: event.id,
        correlationId: event.correlationId,
      });
      listed(deviceId);
      return;
    }
    case DeviceCertified.type: {
      const { deviceId, serialNumber } = event.data as DataOf<typeof DeviceCertified>;
      const certificates = state.unrecorded.get(deviceId);
      if (certificates?.delete(serialNumber)) {
        if (certificates.size === 0) state.unrecorded.delete(deviceId);
        return;
      }
      let ahead = state.recordedAhead.get(deviceId);
      if (!ahead) state.recordedAhead.set(deviceId, (ahead = new Set()));
      ahead.add(serialNumber);
      return;
    }
    case DeviceRevoked.type: {
      const { deviceId } = event.data as DataOf<typeof DeviceRevoked>;
      state.revoked.add(deviceId);
      state.unrecorded.delete(deviceId);
      state.recordedAhead.delete(deviceId);
      return;
    }
    default:
      return;
  }
}

export const unrecordedCertificatesDefinition: LiveViewDefinition<UnrecordedCertificatesState> = {
  name: 'registry-unrecorded-certificates',
  // registry:device is the device-by-id view's filter (a shared consumer); ca:device is what the durable followed.
  sources: [
    { context: 'registry', aggregate: 'device' },
    { context: 'ca', aggregate: 'device' },
  ],
  // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
  // when the state or evolve changes.
  checkpoint: { owner: 'registry', version: 1 },
  initialState: initialUnrecordedCertificatesState,
  evolve(state, { event }) {
    foldUnrecordedCertificates(state, event);
    return state;
  },
};

@Injectable()
export class UnrecordedCertificatesView extends RegistryView<UnrecordedCertificatesState> {
  readonly #listeners: Set<UnrecordedListener>;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    streams: RegistryStreams,
    @Inject(READINESS_CHECKS) readiness: ReadinessRegistry,
    @Inject(REGISTRY_LOGGER) logger: Logger,
  ) {
    const listeners = new Set<UnrecordedListener>();
    super(
      {
        ...unrecordedCertificatesDefinition,
        evolve(state, { event }) {
          foldUnrecordedCertificates(state, event, (deviceId) => {
            for (const listener of listeners) listener(deviceId);
          });
          return state;
        },
      },
      store,
      streams,
      readiness,
      logger,
    );
    this.#listeners = listeners;
  }

  /** The devices with a certificate not recorded yet. */
  devices(): string[] {
    return [...this.state.unrecorded.keys()];
  }

  /** A device's unrecorded certificates, oldest first (the order the CA issued them). */
  certificatesOf(deviceId: string): UnrecordedCertificate[] {
    return [...(this.state.unrecorded.get(deviceId)?.values() ?? [])];
  }

  isUnrecorded(deviceId: string, serialNumber: string): boolean {
    return this.state.unrecorded.get(deviceId)?.has(serialNumber) ?? false;
  }

  /** Called for each certificate that becomes unrecorded (live, and while the view rebuilds); returns the unsubscribe. */
  onUnrecorded(listener: UnrecordedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
