import {
  DeviceQuarantined,
  DeviceQuarantineReleased,
  IntegrityViolationDetected,
  type DataOf,
  type EventOf,
} from '@tunnelkey/contracts';
import type { Command, Decider } from '@tunnelkey/eventstore';
import { decided } from './decided.js';

export type IntegrityViolation = DataOf<typeof IntegrityViolationDetected>;

/**
 * One device's integrity monitoring. `Monitored` until a violation whose action is `quarantine`
 * makes it `Quarantined`; an operator's release makes it `Monitored` again. A silence is recorded
 * once (`silenceSince`: the last heartbeat before it), however often the sweep finds it; so is a
 * mismatch, until another measurement is reported or the device is released, and so is a clone.
 */
interface Seen {
  violations: number;
  silenceSince?: string;
  /** The measurement of the last mismatch: the same one reported again is not a new violation. */
  mismatch?: string;
  /** A second holder of the key was seen: its further heartbeats are the same finding, until released. */
  cloned?: boolean;
}
export type IntegrityState = ({ status: 'Monitored' } & Seen) | ({ status: 'Quarantined'; violationId: string } & Seen);

export type RecordViolationCommand = Command<'RecordViolation', IntegrityViolation>;
export type ReleaseQuarantineCommand = Command<
  'ReleaseQuarantine',
  { deviceId: string; releasedBy: string; note?: string }
>;
export type IntegrityCommand = RecordViolationCommand | ReleaseQuarantineCommand;
export type IntegrityEvent =
  | EventOf<typeof IntegrityViolationDetected>
  | EventOf<typeof DeviceQuarantined>
  | EventOf<typeof DeviceQuarantineReleased>;

export const integrityDecider: Decider<IntegrityCommand, IntegrityEvent, IntegrityState> = {
  initialState: () => ({ status: 'Monitored', violations: 0 }),

  decide(command, state) {
    switch (command.type) {
      case 'RecordViolation': {
        const violation = command.data;
        // The same silence found again by a later sweep (or another instance): recorded already.
        if (violation.kind === 'heartbeat-missing' && violation.heartbeatAt === state.silenceSince) return [];
        if (violation.kind === 'measurement-mismatch' && violation.observedMeasurement === state.mismatch) return [];
        if (violation.kind === 'counter-regression' && state.cloned) return [];
        const detected = decided(IntegrityViolationDetected, violation);
        if (violation.action !== 'quarantine' || state.status === 'Quarantined') return [detected];
        return [
          detected,
          decided(DeviceQuarantined, { deviceId: violation.deviceId, violationId: violation.violationId }),
        ];
      }
      case 'ReleaseQuarantine': {
        // Not quarantined: nothing to release (a retry, or a device never quarantined); the handler says so.
        if (state.status !== 'Quarantined') return [];
        const { deviceId, releasedBy, note } = command.data;
        return [decided(DeviceQuarantineReleased, { deviceId, releasedBy, ...(note ? { note } : {}) })];
      }
      default: {
        const unknown: never = command;
        throw new TypeError(`unknown integrity command ${String((unknown as Command).type)}`);
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'IntegrityViolationDetected': {
        const { kind, heartbeatAt, observedMeasurement } = event.data;
        const silenceSince = kind === 'heartbeat-missing' ? heartbeatAt : state.silenceSince;
        const mismatch = kind === 'measurement-mismatch' ? observedMeasurement : state.mismatch;
        const cloned = kind === 'counter-regression' || state.cloned;
        return {
          ...state,
          violations: state.violations + 1,
          ...(silenceSince ? { silenceSince } : {}),
          ...(mismatch ? { mismatch } : {}),
          ...(cloned ? { cloned } : {}),
        };
      }
      case 'DeviceQuarantined':
        return { ...state, status: 'Quarantined', violationId: event.data.violationId };
      case 'DeviceQuarantineReleased': {
        // A release forgets the mismatch and the clone: seen again after it, they are violations again.
        const { violations, silenceSince } = state;
        return { status: 'Monitored', violations, ...(silenceSince ? { silenceSince } : {}) };
      }
      default: {
        const unknown: never = event;
        return unknown;
      }
    }
  },
};
