/**
 * The fleet's heartbeats (integrity monitoring, issue 17): every online device sends one per
 * period, the devices spread evenly over the period (a fleet started at once does not beat at
 * once). The integrity faults a fleet can play are here too: a tampered image (the measurement
 * changes), a replayed heartbeat (the device's last one published again, as an attacker on the bus
 * would), a clone (a second device with this one's silicon and flash answering with its identity,
 * its own counter line) and a device that goes silent.
 */
import type { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import { InvalidFleetOptionError } from '../errors.js';
import type { SimulatedDevice, SimulatedDeviceOptions } from '../simulated-device/simulated-device.js';

export const integrityFaults = ['tampered-measurement', 'replayed-heartbeat', 'cloned', 'silent'] as const;
export type IntegrityFault = (typeof integrityFaults)[number];

export interface HeartbeatStats {
  /** Heartbeats sent (clones' included), and those the device could not send (offline, key unavailable). */
  sent: number;
  failed: number;
  /** Old heartbeats published again (`replayed-heartbeat`). */
  replayed: number;
  clones: number;
  silent: number;
  /** Heartbeats waiting for a slot and dropped because the fleet was saturated. */
  overloadDrops: number;
}

export interface FleetHeartbeatsBindings {
  devices: () => Iterable<SimulatedDevice>;
  device: (deviceId: string) => SimulatedDevice | undefined;
  limiter: ConcurrencyLimiter;
  publish: (subject: string, data: Uint8Array) => void;
  /** The options a clone of this device runs with (the fleet's transport, namespace, hardware...). */
  cloneOptions: (device: SimulatedDevice) => SimulatedDeviceOptions;
}

export class FleetHeartbeats {
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #silent = new Set<string>();
  readonly #clones = new Map<string, SimulatedDevice>();
  /** Each device's last heartbeat as it went on the bus: what a replay sends again. */
  readonly #last = new Map<string, { subject: string; data: Uint8Array }>();
  readonly #stats: HeartbeatStats = { sent: 0, failed: 0, replayed: 0, clones: 0, silent: 0, overloadDrops: 0 };
  #periodMs = 0;

  constructor(private readonly bindings: FleetHeartbeatsBindings) {}

  /** Every device beats every `periodMs` from now on, device i of n first at i/n of the period. */
  start(periodMs: number): void {
    if (!Number.isInteger(periodMs) || periodMs < 100)
      throw new InvalidFleetOptionError('heartbeat period must be an integer of at least 100 ms', { periodMs });
    this.stop();
    this.#periodMs = periodMs;
    const devices = [...this.bindings.devices()];
    devices.forEach((device, index) => {
      const first = setTimeout(
        () => {
          this.#beat(device);
          const every = setInterval(() => this.#beat(device), periodMs);
          every.unref();
          this.#timers.push(every);
        },
        Math.floor((index * periodMs) / devices.length),
      );
      first.unref();
      this.#timers.push(first);
    });
  }

  stop(): void {
    for (const timer of this.#timers.splice(0)) clearTimeout(timer);
  }

  get periodMs(): number {
    return this.#periodMs;
  }

  /** Called by the fleet's transport with every heartbeat that leaves a device. */
  sent(deviceId: string, subject: string, data: Uint8Array): void {
    this.#last.set(deviceId, { subject, data });
  }

  inject(deviceId: string, fault: IntegrityFault): void {
    const device = this.bindings.device(deviceId);
    if (!device) throw new InvalidFleetOptionError('no such device in the fleet', { deviceId });
    switch (fault) {
      case 'tampered-measurement':
        device.tamperFirmware();
        return;
      case 'silent':
        if (!this.#silent.has(deviceId)) this.#stats.silent++;
        this.#silent.add(deviceId);
        return;
      case 'replayed-heartbeat': {
        const last = this.#last.get(deviceId);
        if (!last) throw new InvalidFleetOptionError('the device has sent no heartbeat to replay yet', { deviceId });
        this.bindings.publish(last.subject, last.data);
        this.#stats.replayed++;
        return;
      }
      case 'cloned': {
        if (this.#clones.has(deviceId)) return;
        this.#clones.set(deviceId, device.clone(this.bindings.cloneOptions(device)));
        this.#stats.clones++;
        return;
      }
      default: {
        const unknown: never = fault;
        throw new InvalidFleetOptionError('unknown integrity fault', { fault: String(unknown) });
      }
    }
  }

  stats(): HeartbeatStats {
    return { ...this.#stats };
  }

  #beat(device: SimulatedDevice): void {
    if (this.#silent.has(device.deviceId)) return;
    const clone = this.#clones.get(device.deviceId);
    for (const sender of clone ? [device, clone] : [device]) {
      const running = this.bindings.limiter.tryRun(() => sender.heartbeat());
      if (!running) {
        this.#stats.overloadDrops++;
        continue;
      }
      running.then(
        (sent) => void (sent ? this.#stats.sent++ : this.#stats.failed++),
        () => void this.#stats.failed++,
      );
    }
  }
}
