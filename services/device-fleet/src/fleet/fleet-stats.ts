import type { MqttFleetStats } from '../mqtt/mqtt-fleet.js';
import type { DeviceObservation } from '../simulated-device/device-observation.js';
import type { DeviceState } from '../simulated-device/simulated-device.js';

export interface FleetMessageCounters {
  /** Inbox messages that reached a device of this fleet. */
  received: number;
  /** Verified and acted on. */
  accepted: number;
  /** Refused by a device (forged, replayed, stale, wrong subject, unrequested certificate...). */
  refused: number;
  /** Arrived for an offline device: ignored. */
  offlineDrops: number;
  /** Refused by the fleet because the crypto queue was full. */
  overloadDrops: number;
  /** Addressed to a device id this fleet does not have. */
  unknownDevice: number;
  /** Uplinks sent. */
  sent: number;
  /** PUF key reconstructions that failed (tampered helper data). */
  keyFailures: number;
  /** `rejection` messages the platform sent to our devices. */
  platformRejections: number;
}

export interface FleetStats {
  size: number;
  byState: Record<DeviceState, number>;
  faults: { offline: number; tamperedHelperData: number; tamperedFirmware: number };
  messages: FleetMessageCounters;
  refusedByCode: Record<string, number>;
  sentByKind: Record<string, number>;
  /** Crypto work running / waiting right now. */
  inFlight: { active: number; waiting: number };
  /** The devices' hardware threads running (0 when keys are derived in the fleet's thread, or once stopped) and their jobs in flight. */
  hardware: { threads: number; pending: number };
  /** MQTT sessions with onboarding targets (zeros until `connect()`). */
  mqtt: MqttFleetStats;
  /** Over-the-air update steps, by event (`offer-refused:<reason>` for refusals). */
  firmware: Record<string, number>;
}

export const emptyByState = (): Record<DeviceState, number> => ({
  enrolled: 0,
  announced: 0,
  'identity-proven': 0,
  'csr-sent': 0,
  certified: 0,
  configured: 0,
  offline: 0,
  'key-failure': 0,
});

/** Running counters fed by every device's observations. */
export class FleetCounters {
  readonly messages: FleetMessageCounters = {
    received: 0,
    accepted: 0,
    refused: 0,
    offlineDrops: 0,
    overloadDrops: 0,
    unknownDevice: 0,
    sent: 0,
    keyFailures: 0,
    platformRejections: 0,
  };
  readonly refusedByCode: Record<string, number> = {};
  readonly sentByKind: Record<string, number> = {};
  readonly firmware: Record<string, number> = {};

  observe(observation: DeviceObservation): void {
    const m = this.messages;
    switch (observation.type) {
      case 'refused':
        m.refused++;
        this.refusedByCode[observation.code] = (this.refusedByCode[observation.code] ?? 0) + 1;
        break;
      case 'accepted':
        m.accepted++;
        break;
      case 'sent':
        m.sent++;
        this.sentByKind[observation.kind] = (this.sentByKind[observation.kind] ?? 0) + 1;
        break;
      case 'platform-rejection':
        m.accepted++;
        m.platformRejections++;
        break;
      case 'key-failure':
        m.keyFailures++;
        break;
      case 'offline-drop':
        m.offlineDrops++;
        break;
      case 'firmware': {
        const key = observation.code ? `${observation.event}:${observation.code}` : observation.event;
        this.firmware[key] = (this.firmware[key] ?? 0) + 1;
        break;
      }
      default: {
        const never: never = observation;
        throw new Error(`unknown observation ${String(never)}`);
      }
    }
  }
}
