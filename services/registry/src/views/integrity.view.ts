import { Inject, Injectable } from '@nestjs/common';
import {
  defaultHeartbeatPeriodSeconds,
  defaultIntegrityAction,
  defaultMissedPeriods,
  type DataOf,
  type IntegrityPolicyDefined,
  type IntegrityViolationDetected,
} from '@tunnelkey/contracts';
import type { EventStore, LiveViewDefinition } from '@tunnelkey/eventstore';
import { EVENT_STORE, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { isEnrolled } from '../deciders/device-state.js';
import type { IntegrityPolicy } from '../deciders/policy.decider.js';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { DeviceByIdView } from './device-by-id.view.js';
import { RegistryView } from './registry-view.js';

type Violation = DataOf<typeof IntegrityViolationDetected> & { detectedAt: string };

/** One device's integrity as the log tells it: quarantine, violations, and each step with its time. */
export interface DeviceIntegrity {
  quarantined: boolean;
  /** The release OTA last installed (DeviceUpdateApplied): what its heartbeats must report from then on. */
  installedMeasurement?: string;
  violations: Violation[];
  timeline: { at: string; type: string; detail: string }[];
}

export interface IntegrityState {
  policies: Map<string, DataOf<typeof IntegrityPolicyDefined>>;
  batchPolicy: Map<string, string>;
  devices: Map<string, DeviceIntegrity>;
  /** Violations in the order they were detected, newest last (the alert list). */
  alerts: Violation[];
}

/** A device's timeline keeps its newest entries; violations and alerts are bounded the same way. */
const maxTimeline = 200;
const maxAlerts = 10_000;

function deviceOf(state: IntegrityState, deviceId: string): DeviceIntegrity {
  let device = state.devices.get(deviceId);
  if (!device) state.devices.set(deviceId, (device = { quarantined: false, violations: [], timeline: [] }));
  return device;
}

function bounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

/**
 * Query: what integrity monitoring needs and shows. The policies' integrity settings and which
 * policy each batch is bound to; per device the measurement OTA installed last, whether it is
 * quarantined, its violations and its timeline; the alert list. The enrolled measurement and a
 * device's batch come from the device-by-id view (one feed of device events, not two).
 */
export const integrityDefinition: LiveViewDefinition<IntegrityState> = {
  name: 'registry-integrity',
  sources: [
    { context: 'registry', aggregate: 'policy' },
    { context: 'registry', aggregate: 'batch' },
    { context: 'registry', aggregate: 'integrity' },
    { context: 'ota', aggregate: 'device' },
  ],
  // Checkpointed like the registry's other views: a restart replays only what follows. Bump the
  // version when the state or evolve changes.
  checkpoint: { owner: 'registry', version: 1 },
  initialState: () => ({ policies: new Map(), batchPolicy: new Map(), devices: new Map(), alerts: [] }),
  // Mutates in place (see device-by-id).
  evolve(view, { event }) {
    const data = event.data as Record<string, unknown> & { deviceId: string };
    switch (event.type) {
      case 'IntegrityPolicyDefined': {
        const policy = event.data as DataOf<typeof IntegrityPolicyDefined>;
        view.policies.set(policy.policyId, policy);
        break;
      }
      case 'BatchCreated': {
        const { batchId, policyId } = event.data as { batchId: string; policyId: string };
        view.batchPolicy.set(batchId, policyId);
        break;
      }
      case 'DeviceUpdateApplied': {
        const device = deviceOf(view, data.deviceId);
        device.installedMeasurement = data.firmwareMeasurement as string;
        bounded(
          device.timeline,
          { at: event.occurredAt, type: event.type, detail: `installed ${String(data.version)}` },
          maxTimeline,
        );
        break;
      }
      case 'IntegrityViolationDetected': {
        const violation = {
          ...(event.data as DataOf<typeof IntegrityViolationDetected>),
          detectedAt: event.occurredAt,
        };
        const device = deviceOf(view, violation.deviceId);
        bounded(device.violations, violation, maxTimeline);
        bounded(view.alerts, violation, maxAlerts);
        bounded(
          device.timeline,
          { at: event.occurredAt, type: event.type, detail: `${violation.kind}, ${violation.action}` },
          maxTimeline,
        );
        break;
      }
      case 'DeviceQuarantined':
      case 'DeviceQuarantineReleased': {
        const device = deviceOf(view, data.deviceId);
        device.quarantined = event.type === 'DeviceQuarantined';
        const detail = event.type === 'DeviceQuarantined' ? 'quarantined' : `released by ${String(data.releasedBy)}`;
        bounded(device.timeline, { at: event.occurredAt, type: event.type, detail }, maxTimeline);
        break;
      }
    }
    return view;
  },
};

@Injectable()
export class IntegrityView extends RegistryView<IntegrityState> {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    streams: RegistryStreams,
    @Inject(READINESS_CHECKS) readiness: ReadinessRegistry,
    @Inject(REGISTRY_LOGGER) logger: Logger,
    private readonly devices: DeviceByIdView,
  ) {
    super(integrityDefinition, store, streams, readiness, logger);
  }

  /** The measurement a device's heartbeats must report: the release installed last, else the one enrolled. */
  expectedMeasurement(deviceId: string): string | undefined {
    return (
      this.state.devices.get(deviceId)?.installedMeasurement ?? this.devices.identity(deviceId)?.firmwareMeasurement
    );
  }

  /** The integrity settings of the device's batch's policy, the defaults when it set none. */
  policyFor(deviceId: string): IntegrityPolicy {
    const state = this.devices.deviceState(deviceId);
    const batchId = state && isEnrolled(state) ? state.membership.batchId : undefined;
    const policyId = batchId ? this.state.batchPolicy.get(batchId) : undefined;
    return (
      (policyId ? this.state.policies.get(policyId) : undefined) ?? {
        policyId: policyId ?? 'default',
        heartbeatPeriodSeconds: defaultHeartbeatPeriodSeconds,
        missedPeriods: defaultMissedPeriods,
        action: defaultIntegrityAction,
      }
    );
  }

  /** Revoked devices are not monitored: they cannot connect anyway. */
  monitored(deviceId: string): boolean {
    return this.devices.deviceState(deviceId)?.status !== 'Revoked';
  }

  device(deviceId: string): DeviceIntegrity | undefined {
    return this.state.devices.get(deviceId);
  }

  /** The newest violations first. */
  alerts(limit: number): Violation[] {
    return this.state.alerts.slice(-limit).reverse();
  }
}
