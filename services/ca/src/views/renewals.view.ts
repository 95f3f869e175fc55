/**
 * Query: each device's current and previous certificate, its renewal under way and the last one
 * done (why, when); each renewal's progress, and each renewal operation's counts. Folded from the
 * CA's own log (certificates, CSR requests, renewals) in a LiveView, checkpointed. Renewal work
 * (RenewCertificatesHandler, RenewalsJob, the certificate-switched uplink) decides on it; the
 * recorded steps themselves are decided by the renewal decider on the renewal's own subject.
 */
import {
  CertificateIssued,
  CertificateRejected,
  CertificateRenewalCompleted,
  CertificateRenewalExpired,
  CertificateRenewalRequested,
  CertificateRevoked,
  CertificationRevoked,
  CsrRequestExpired,
  DeviceCertificateRenewed,
  type DataOf,
  type EventEnvelope,
  type RenewalReason,
} from '@tunnelkey/contracts';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import { InMemoryView } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { tlsGenerationOf } from '../renew-certificates/renewal-schedule.js';

export interface CertificateRef {
  authorityId: string;
  serialNumber: string;
  keyId: string;
  requestId: string;
  fingerprintSha256: string;
  notBefore: string;
  notAfter: string;
}

export interface RenewalRecord {
  renewalId: string;
  deviceId: string;
  reason: RenewalReason;
  operationId: string;
  requestId: string;
  keyId: string;
  previous: DataOf<typeof CertificateRenewalRequested>['previous'];
  requestedAt: string;
  expiresAt: string;
  status: 'requested' | 'renewed' | 'completed' | 'expired';
  /** How its CSR request ended (set once answered or given up). */
  csr?: 'issued' | 'rejected' | 'expired';
  /** The new certificate, once issued for its request. */
  issued?: CertificateRef;
  renewedAt?: string;
  completedAt?: string;
}

export interface DeviceRenewalRecord {
  deviceId: string;
  current?: CertificateRef;
  previous?: CertificateRef;
  /** Highest TLS key generation ever certified: a renewal takes the next one. */
  highestTlsGeneration?: number;
  /** The renewal under way, if any. */
  renewalId?: string;
  /** The last renewal completed: why and when (the previous certificate is then revoked). */
  lastRenewal?: { renewalId: string; reason: RenewalReason; requestedAt: string; completedAt: string };
  revoked: boolean;
}

export interface OperationCounts {
  requested: number;
  renewed: number;
  completed: number;
  expired: number;
}

export interface RenewalsState {
  devices: Map<string, DeviceRenewalRecord>;
  renewals: Map<string, RenewalRecord>;
  /** CSR requestId -> renewalId, for the renewals' requests. */
  byRequest: Map<string, string>;
  operations: Map<string, OperationCounts>;
}

export const initialRenewalsState = (): RenewalsState => ({
  devices: new Map(),
  renewals: new Map(),
  byRequest: new Map(),
  operations: new Map(),
});

type Data<E> = DataOf<E>;

const deviceOf = (state: RenewalsState, deviceId: string): DeviceRenewalRecord => {
  let device = state.devices.get(deviceId);
  if (!device) state.devices.set(deviceId, (device = { deviceId, revoked: false }));
  return device;
};

const count = (state: RenewalsState, operationId: string, field: keyof OperationCounts) => {
  let counts = state.operations.get(operationId);
  if (!counts) state.operations.set(operationId, (counts = { requested: 0, renewed: 0, completed: 0, expired: 0 }));
  counts[field]++;
};

/** Folds one CA event in place (the view owns the state); an event folded twice changes nothing more. */
export function evolveRenewals(state: RenewalsState, event: EventEnvelope): RenewalsState {
  switch (event.type) {
    case CertificateIssued.type: {
      const d = event.data as Data<typeof CertificateIssued>;
      const device = deviceOf(state, d.deviceId);
      if (device.current?.serialNumber === d.serialNumber) break;
      const ref: CertificateRef = {
        authorityId: d.authorityId,
        serialNumber: d.serialNumber,
        keyId: d.keyId,
        requestId: d.requestId,
        fingerprintSha256: d.fingerprintSha256,
        notBefore: d.notBefore,
        notAfter: d.notAfter,
      };
      if (device.current) device.previous = device.current;
      device.current = ref;
      const generation = tlsGenerationOf(d.keyId);
      if (generation !== undefined)
        device.highestTlsGeneration = Math.max(device.highestTlsGeneration ?? 0, generation);
      const renewal = state.renewals.get(state.byRequest.get(d.requestId) ?? '');
      if (renewal) {
        renewal.csr = 'issued';
        renewal.issued = ref;
      }
      break;
    }
    case CertificateRejected.type: {
      const renewal = state.renewals.get(
        state.byRequest.get((event.data as Data<typeof CertificateRejected>).requestId) ?? '',
      );
      if (renewal && !renewal.issued) renewal.csr = 'rejected';
      break;
    }
    case CsrRequestExpired.type: {
      const renewal = state.renewals.get(
        state.byRequest.get((event.data as Data<typeof CsrRequestExpired>).requestId) ?? '',
      );
      if (renewal && !renewal.issued) renewal.csr = 'expired';
      break;
    }
    case CertificationRevoked.type:
      deviceOf(state, (event.data as Data<typeof CertificationRevoked>).deviceId).revoked = true;
      break;
    case CertificateRevoked.type: {
      // Its current certificate revoked on its own (an ownership transfer): nothing to renew until the next one.
      const d = event.data as Data<typeof CertificateRevoked>;
      const device = deviceOf(state, d.deviceId);
      if (device.current?.serialNumber === d.serialNumber) {
        device.previous = device.current;
        delete device.current;
      }
      break;
    }
    case CertificateRenewalRequested.type: {
      const d = event.data as Data<typeof CertificateRenewalRequested>;
      if (state.renewals.has(d.renewalId)) break;
      state.renewals.set(d.renewalId, {
        renewalId: d.renewalId,
        deviceId: d.deviceId,
        reason: d.reason,
        operationId: d.operationId,
        requestId: d.requestId,
        keyId: d.keyId,
        previous: d.previous,
        requestedAt: event.occurredAt,
        expiresAt: d.expiresAt,
        status: 'requested',
      });
      state.byRequest.set(d.requestId, d.renewalId);
      deviceOf(state, d.deviceId).renewalId = d.renewalId;
      const generation = tlsGenerationOf(d.keyId);
      const device = deviceOf(state, d.deviceId);
      if (generation !== undefined)
        device.highestTlsGeneration = Math.max(device.highestTlsGeneration ?? 0, generation);
      count(state, d.operationId, 'requested');
      break;
    }
    case DeviceCertificateRenewed.type: {
      const d = event.data as Data<typeof DeviceCertificateRenewed>;
      const renewal = state.renewals.get(d.renewalId);
      if (!renewal || renewal.status !== 'requested') break;
      renewal.status = 'renewed';
      renewal.renewedAt = event.occurredAt;
      count(state, d.operationId, 'renewed');
      break;
    }
    case CertificateRenewalCompleted.type: {
      const d = event.data as Data<typeof CertificateRenewalCompleted>;
      const renewal = state.renewals.get(d.renewalId);
      if (!renewal || renewal.status !== 'renewed') break;
      renewal.status = 'completed';
      renewal.completedAt = d.switchedAt;
      const device = deviceOf(state, d.deviceId);
      if (device.renewalId === d.renewalId) delete device.renewalId;
      device.lastRenewal = {
        renewalId: d.renewalId,
        reason: renewal.reason,
        requestedAt: renewal.requestedAt,
        completedAt: d.switchedAt,
      };
      count(state, d.operationId, 'completed');
      break;
    }
    case CertificateRenewalExpired.type: {
      const d = event.data as Data<typeof CertificateRenewalExpired>;
      const renewal = state.renewals.get(d.renewalId);
      if (!renewal || (renewal.status !== 'requested' && renewal.status !== 'renewed')) break;
      renewal.status = 'expired';
      const device = deviceOf(state, d.deviceId);
      if (device.renewalId === d.renewalId) delete device.renewalId;
      count(state, d.operationId, 'expired');
      break;
    }
    default:
      break;
  }
  return state;
}

export type RenewalListener = (renewal: RenewalRecord) => void;

export class RenewalsView extends InMemoryView<RenewalsState> {
  static readonly viewName = 'ca-renewals';

  private constructor(
    view: LiveView<RenewalsState>,
    private readonly listeners: Set<RenewalListener>,
  ) {
    super(view);
  }

  static async start(store: EventStore, logger: Logger): Promise<RenewalsView> {
    const listeners = new Set<RenewalListener>();
    const view = await LiveView.start<RenewalsState>(
      store,
      {
        name: RenewalsView.viewName,
        sources: [{ context: 'ca' }],
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
        // when the state or evolve changes.
        // 2: a current certificate revoked on its own (CertificateRevoked) is no longer current.
        checkpoint: { owner: 'ca', version: 2 },
        initialState: initialRenewalsState,
        evolve(state, { event }) {
          evolveRenewals(state, event);
          // A renewal's CSR answered: the renewals job records the step without waiting for its sweep.
          if (CertificateIssued.is(event) || CertificateRejected.is(event) || CsrRequestExpired.is(event)) {
            const renewal = state.renewals.get(state.byRequest.get(event.data.requestId) ?? '');
            if (renewal?.status === 'requested') for (const listener of listeners) listener(renewal);
          }
          return state;
        },
      },
      { logger },
    );
    return new RenewalsView(view, listeners);
  }

  device(deviceId: string): DeviceRenewalRecord | undefined {
    return this.state.devices.get(deviceId);
  }

  renewal(renewalId: string): RenewalRecord | undefined {
    return this.state.renewals.get(renewalId);
  }

  renewalOfRequest(requestId: string): RenewalRecord | undefined {
    return this.state.renewals.get(this.state.byRequest.get(requestId) ?? '');
  }

  /** Renewals requested or renewed, not completed or expired yet. */
  open(): RenewalRecord[] {
    const open: RenewalRecord[] = [];
    for (const device of this.state.devices.values()) {
      const renewal = device.renewalId ? this.state.renewals.get(device.renewalId) : undefined;
      if (renewal) open.push(renewal);
    }
    return open;
  }

  /** Devices holding a certificate, not revoked, with no renewal under way: candidates for a scheduled renewal. */
  *renewable(): Iterable<DeviceRenewalRecord & { current: CertificateRef }> {
    for (const device of this.state.devices.values())
      if (device.current && !device.revoked && !device.renewalId)
        yield device as DeviceRenewalRecord & { current: CertificateRef };
  }

  operation(operationId: string): OperationCounts | undefined {
    return this.state.operations.get(operationId);
  }

  /** Called for each renewal whose CSR request was answered or given up; returns the unsubscribe. */
  onCsrSettled(listener: RenewalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Folds an event this instance just appended, so its next decision sees it without waiting for delivery. */
  note(event: EventEnvelope): void {
    evolveRenewals(this.state, event);
  }
}
