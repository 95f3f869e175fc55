/**
 * The onboarding side of one device (`onboarding.device.<id>`), per target: onboarded, connected,
 * telemetry seen, deprovisioned. Pure: times and ids come with the command. Observations of a
 * device the target does not know (never onboarded there) decide nothing.
 */
import {
  DeviceConnected,
  DeviceDeprovisioned,
  DeviceDisconnected,
  DeviceOnboarded,
  DeviceOnboardingFailed,
  DeviceQuarantineEnforced,
  TelemetryReceived,
  type DataOf,
  type EventOf,
} from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type DeviceEvent =
  | EventOf<typeof DeviceOnboarded>
  | EventOf<typeof DeviceOnboardingFailed>
  | EventOf<typeof DeviceDeprovisioned>
  | EventOf<typeof DeviceConnected>
  | EventOf<typeof DeviceDisconnected>
  | EventOf<typeof TelemetryReceived>
  | EventOf<typeof DeviceQuarantineEnforced>;

export type DeviceCommand =
  | Command<'RecordOnboarded', DataOf<typeof DeviceOnboarded>>
  | Command<'RecordOnboardingFailed', DataOf<typeof DeviceOnboardingFailed>>
  | Command<'RecordDeprovisioned', DataOf<typeof DeviceDeprovisioned>>
  | Command<'RecordConnected', DataOf<typeof DeviceConnected>>
  | Command<'RecordDisconnected', DataOf<typeof DeviceDisconnected>>
  | Command<'RecordTelemetry', DataOf<typeof TelemetryReceived>>
  | Command<'RecordQuarantineEnforced', DataOf<typeof DeviceQuarantineEnforced>>
  | Command<'ReconcileConnection', ConnectionSeen>;

/**
 * What the target reports of the device's connection at `observedAt` (its list of connected
 * clients), when the log says otherwise: the log is brought in line, once.
 */
export interface ConnectionSeen {
  deviceId: string;
  targetId: string;
  clientId: string;
  connected: boolean;
  observedAt: string;
}

export interface DeviceOnTarget {
  onboarded?: DataOf<typeof DeviceOnboarded>;
  deprovisioned?: DataOf<typeof DeviceDeprovisioned>['reason'];
  connected: boolean;
  telemetry?: { messagesTotal: number; bytesTotal: number; firstMessageAt: string };
  /** Restricted to its quarantine topic on this target (the last enforcement that did not fail). */
  quarantined?: boolean;
}

export interface DeviceState {
  targets: Readonly<Record<string, DeviceOnTarget>>;
}

const on = (state: DeviceState, targetId: string): DeviceOnTarget => state.targets[targetId] ?? { connected: false };
const event = <D>(definition: { type: string; version: number }, data: D) =>
  ({ type: definition.type, version: definition.version, data }) as NewEvent<DeviceEvent>;

const sameOnboarding = (a: DataOf<typeof DeviceOnboarded>, b: DataOf<typeof DeviceOnboarded>) =>
  a.batchId === b.batchId &&
  a.policyId === b.policyId &&
  a.clientId === b.clientId &&
  a.roleName === b.roleName &&
  a.topicPrefix === b.topicPrefix &&
  // Another target certificate is a new onboarding: every certificate a device was sent is on record.
  a.certificate?.serialNumber === b.certificate?.serialNumber;

export const deviceDecider: Decider<DeviceCommand, DeviceEvent, DeviceState> = {
  initialState: () => ({ targets: {} }),

  decide(command, state) {
    const target = on(state, command.data.targetId);
    switch (command.type) {
      case 'RecordOnboarded':
        // Revoked on one target is revoked on all: the device's certificate is on its issuer's CRL.
        if (Object.values(state.targets).some((t) => t.deprovisioned === 'revoked'))
          throw new CommandRejected('device-revoked', 'a revoked device is never onboarded again', {
            deviceId: command.data.deviceId,
            targetId: command.data.targetId,
          });
        if (target.onboarded && !target.deprovisioned && sameOnboarding(target.onboarded, command.data)) return [];
        return [event(DeviceOnboarded, command.data)];
      case 'RecordOnboardingFailed':
        return [event(DeviceOnboardingFailed, command.data)];
      case 'RecordDeprovisioned':
        if (!target.onboarded || target.deprovisioned === command.data.reason) return [];
        return [event(DeviceDeprovisioned, command.data)];
      case 'RecordConnected':
        if (!target.onboarded) return [];
        return [event(DeviceConnected, command.data)];
      case 'RecordDisconnected':
        // Also after deprovisioning: the broker reports the dropped session a moment later.
        if (!target.connected) return [];
        return [event(DeviceDisconnected, command.data)];
      case 'ReconcileConnection': {
        const { deviceId, targetId, clientId, observedAt } = command.data;
        if (command.data.connected) {
          // Never a connection recorded for a device deprovisioned there (its session is being cut off).
          if (!target.onboarded || target.deprovisioned || target.connected) return [];
          return [
            event(DeviceConnected, {
              deviceId,
              targetId,
              clientId,
              connectedAt: observedAt,
              tlsProtocol: 'unknown',
              cipher: 'unknown',
            }),
          ];
        }
        if (!target.connected) return [];
        return [
          event(DeviceDisconnected, { deviceId, targetId, clientId, disconnectedAt: observedAt, reason: 'unknown' }),
        ];
      }
      case 'RecordQuarantineEnforced':
        // Applied already (a redelivery), or a failure: a failure is recorded each time, for the operator.
        if (!command.data.failed && (target.quarantined ?? false) === command.data.quarantined) return [];
        return [event(DeviceQuarantineEnforced, command.data)];
      case 'RecordTelemetry': {
        if (!target.onboarded) return [];
        const seen = target.telemetry;
        if (seen && command.data.messagesTotal <= seen.messagesTotal) return [];
        // A restart may report "first" again; the log already has the first one.
        const data =
          seen && command.data.kind === 'first'
            ? { ...command.data, kind: 'periodic' as const, firstMessageAt: seen.firstMessageAt }
            : command.data;
        return [event(TelemetryReceived, data)];
      }
      default: {
        const unknown: never = command;
        return unknown;
      }
    }
  },

  evolve(state, recorded) {
    const targetId = recorded.data.targetId;
    const target = on(state, targetId);
    const next = (changed: Partial<DeviceOnTarget>): DeviceState => ({
      targets: { ...state.targets, [targetId]: { ...target, ...changed } },
    });
    switch (recorded.type) {
      case 'DeviceOnboarded': {
        const { deprovisioned: _gone, ...rest } = target;
        return { targets: { ...state.targets, [targetId]: { ...rest, onboarded: recorded.data } } };
      }
      case 'DeviceOnboardingFailed':
        return state;
      case 'DeviceDeprovisioned':
        return next({ deprovisioned: recorded.data.reason });
      case 'DeviceConnected':
        return next({ connected: true });
      case 'DeviceDisconnected':
        return next({ connected: false });
      case 'TelemetryReceived':
        return next({
          telemetry: {
            messagesTotal: recorded.data.messagesTotal,
            bytesTotal: recorded.data.bytesTotal,
            firstMessageAt: recorded.data.firstMessageAt,
          },
        });
      case 'DeviceQuarantineEnforced':
        return recorded.data.failed ? state : next({ quarantined: recorded.data.quarantined });
      default:
        return state;
    }
  },
};
