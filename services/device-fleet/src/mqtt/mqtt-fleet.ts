/**
 * The MQTT side of a fleet: one DeviceMqttLink per (device, target) it was onboarded to. Thousands
 * of devices share one ticker (reconnects that are due, telemetry that is due) and one limit on
 * handshakes in flight, so a fleet of 5,000 does not open 5,000 handshakes at once nor run 10,000
 * timers.
 *
 * An attempt is two steps: the key re-derived from the PUF, then the handshake. Real devices each
 * derive on their own silicon, in parallel, whenever they are about to connect; the simulated ones
 * share a few hardware threads. So a device derives while it waits for its handshake slot (at most
 * `concurrency` devices are deriving or holding a derived key at once), and a handshake slot is
 * never spent waiting for a hardware thread.
 */
import { InvalidFleetOptionError } from '../errors.js';
import { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import { isDeviceKeyId, type DeviceKeyId } from '../simulated-device/key-ids.js';
import type { SimulatedDevice } from '../simulated-device/simulated-device.js';
import { DeviceMqttLink, type ConnectFailure, type LinkSettings, type MqttLinkEvent } from './device-mqtt-link.js';

export interface MqttFleetOptions {
  /** The certified key devices present (default `tls-0`). */
  keyId?: DeviceKeyId;
  /** TLS handshakes in flight at once (default 64); as many devices may derive their key ahead of theirs. */
  concurrency?: number;
  /** Telemetry period per device (default 10 s); the first reading goes right after CONNACK. */
  telemetryIntervalMs?: number;
  /** Resolution of the shared ticker (default 250 ms). */
  tickMs?: number;
  connectTimeoutMs?: number;
  keepaliveSeconds?: number;
  /** Reconnect backoff: doubled per consecutive failure, capped, jittered (default 1 s .. 60 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** Every link event (the bench takes timestamps from it). Keep it cheap: it runs on the fleet's loop. */
  onEvent?: (event: MqttLinkEvent) => void;
}

export interface MqttConnectSummary {
  /** Links started by this call. */
  started: number;
  /** Devices that cannot connect yet: offline, no certificate for the key, or not onboarded anywhere. */
  skipped: { offline: number; noCertificate: number; notOnboarded: number };
}

export interface MqttFleetStats {
  /** Links (device x target) the fleet runs; 0 before `connect()`. */
  links: number;
  queued: number;
  connecting: number;
  connected: number;
  /** Waiting for their next attempt (backoff after a failure or a drop). */
  waiting: number;
  /** Connected and with telemetry acknowledged on the current connection. */
  publishing: number;
  /** Links that ever had telemetry acknowledged. */
  delivered: number;
  attempts: number;
  connects: number;
  disconnects: number;
  failuresByReason: Partial<Record<ConnectFailure, number>>;
  published: number;
  acked: number;
  /** Telemetry the broker refused (PUBACK reason code): connected without rights. */
  publishRefused: number;
  telemetry: 'on' | 'off';
  /** Connected links whose telemetry came due while telemetry is off: each would have published by now. */
  withheld: number;
}

export const emptyMqttStats = (): MqttFleetStats => ({
  links: 0,
  queued: 0,
  connecting: 0,
  connected: 0,
  waiting: 0,
  publishing: 0,
  delivered: 0,
  attempts: 0,
  connects: 0,
  disconnects: 0,
  failuresByReason: {},
  published: 0,
  acked: 0,
  publishRefused: 0,
  telemetry: 'off',
  withheld: 0,
});

const positive = (name: string, value: number | undefined, fallback: number): number => {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new InvalidFleetOptionError(`${name} must be positive`, { [name]: v });
  return v;
};

export class MqttFleet {
  readonly #links = new Map<string, DeviceMqttLink>();
  /** The targets each device has a link to (keys of #links): ensure() looks at one device's links, not the fleet's. */
  readonly #targetsOf = new Map<SimulatedDevice, Set<string>>();
  /**
   * Renewal, make before break: a link with new connection parameters (a renewed target
   * certificate) connects beside the current one, which keeps publishing until the new one is
   * connected; then the new one takes its place (the broker hands the client id over) and the device
   * reports the switch, so the platform may revoke the certificate it replaced.
   */
  readonly #replacing = new Map<string, DeviceMqttLink>();
  /** Handshakes in flight. */
  readonly #handshakes: ConcurrencyLimiter;
  /** Attempts deriving their key or holding it until their handshake starts. */
  readonly #preparing: ConcurrencyLimiter;
  readonly #failures: Partial<Record<ConnectFailure, number>> = {};
  readonly #keyId: DeviceKeyId;
  readonly #intervalMs: number;
  readonly #settings: LinkSettings;
  #timer: NodeJS.Timeout | undefined;
  #telemetryOn = true;
  #closed = false;

  constructor(options: MqttFleetOptions = {}) {
    this.#keyId = options.keyId ?? 'tls-0';
    this.#intervalMs = positive('telemetryIntervalMs', options.telemetryIntervalMs, 10_000);
    const concurrency = Math.floor(positive('concurrency', options.concurrency, 64));
    this.#handshakes = new ConcurrencyLimiter(concurrency);
    this.#preparing = new ConcurrencyLimiter(concurrency);
    const onEvent = options.onEvent;
    this.#settings = {
      keyId: this.#keyId,
      connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 15_000),
      keepaliveSeconds: positive('keepaliveSeconds', options.keepaliveSeconds, 60),
      backoff: options.backoff ?? { initialMs: 1_000, maxMs: 60_000 },
      telemetryIntervalMs: this.#intervalMs,
      telemetryEnabled: () => this.#telemetryOn,
      emit: (event) => {
        if (event.type === 'connect-failed') this.#failures[event.reason] = (this.#failures[event.reason] ?? 0) + 1;
        if (event.type === 'connected') this.#promote(`${event.deviceId}\u0000${event.targetId}`);
        onEvent?.(event);
      },
    };
    const tickMs = positive('tickMs', options.tickMs, 250);
    this.#timer = setInterval(() => this.#tick(), tickMs);
    // The fleet's owner decides when the process ends, not a telemetry timer.
    this.#timer.unref();
  }

  /**
   * Starts a link for every target the device was onboarded to and is not linked yet; the first
   * attempt is queued at once. Returns how many links started, or why none could.
   */
  ensure(device: SimulatedDevice): { started: number; skipped?: keyof MqttConnectSummary['skipped'] } {
    if (this.#closed) return { started: 0 };
    if (!device.online) return { started: 0, skipped: 'offline' };
    this.#dropForgotten(device);
    // Each target's parameters name the key its certificate certifies (after a transfer, a key of the new epoch).
    const keyOf = (parameters: { keyId?: string }) =>
      parameters.keyId && isDeviceKeyId(parameters.keyId) ? parameters.keyId : this.#keyId;
    if (Object.keys(device.flash.certificates).length === 0) return { started: 0, skipped: 'noCertificate' };
    const targets = Object.entries(device.flash.connections);
    if (targets.length === 0) return { started: 0, skipped: 'notOnboarded' };
    let started = 0;
    for (const [targetId, parameters] of targets) {
      if (!device.flash.certificates[keyOf(parameters)]) continue;
      const key = `${device.deviceId}\u0000${targetId}`;
      const current = this.#links.get(key);
      const renewed = (link: DeviceMqttLink | undefined) =>
        link !== undefined && link.parameters.clientCertificatePem !== parameters.clientCertificatePem;
      if (current && renewed(current) && current.state !== 'stopped') {
        // Another client certificate for a target it is linked to already (a renewal): connect beside, then switch.
        // (The same parameters sent again, e.g. by onboarding's resend, change nothing.)
        if (this.#replacing.has(key) && !renewed(this.#replacing.get(key))) continue;
        void this.#replacing.get(key)?.stop();
        const replacement = new DeviceMqttLink(device, targetId, parameters, this.#settings);
        this.#replacing.set(key, replacement);
        this.#dispatch(replacement);
        started++;
        continue;
      }
      if (current) continue;
      const link = new DeviceMqttLink(device, targetId, parameters, this.#settings);
      this.#links.set(key, link);
      const targets = this.#targetsOf.get(device) ?? new Set<string>();
      this.#targetsOf.set(device, targets.add(targetId));
      this.#dispatch(link);
      started++;
    }
    return { started };
  }

  /** Stops the links of targets the device no longer holds parameters for (it was handed to a new owner). */
  #dropForgotten(device: SimulatedDevice): void {
    const targets = this.#targetsOf.get(device);
    if (!targets) return;
    for (const targetId of targets) {
      if (device.flash.connections[targetId]) continue;
      targets.delete(targetId);
      const key = `${device.deviceId}\u0000${targetId}`;
      const link = this.#links.get(key);
      this.#links.delete(key);
      void link?.stop();
      const replacing = this.#replacing.get(key);
      this.#replacing.delete(key);
      void replacing?.stop();
    }
  }

  connectAll(devices: Iterable<SimulatedDevice>): MqttConnectSummary {
    const summary: MqttConnectSummary = { started: 0, skipped: { offline: 0, noCertificate: 0, notOnboarded: 0 } };
    for (const device of devices) {
      const outcome = this.ensure(device);
      summary.started += outcome.started;
      if (outcome.skipped) summary.skipped[outcome.skipped]++;
    }
    return summary;
  }

  /** Devices stay connected but publish nothing more. */
  stopTelemetry(): void {
    this.#telemetryOn = false;
  }

  startTelemetry(): void {
    this.#telemetryOn = true;
  }

  stats(): MqttFleetStats {
    const stats = emptyMqttStats();
    stats.links = this.#links.size;
    stats.telemetry = this.#telemetryOn ? 'on' : 'off';
    stats.failuresByReason = { ...this.#failures };
    const now = Date.now();
    for (const link of this.#links.values()) {
      if (link.state !== 'stopped') stats[link.state]++;
      if (link.state === 'connected' && !this.#telemetryOn && link.nextPublishAt <= now) stats.withheld++;
      if (link.state === 'connected' && link.deliveringNow) stats.publishing++;
      if (link.everDelivered) stats.delivered++;
      stats.attempts += link.attempts;
      stats.connects += link.connects;
      stats.disconnects += link.disconnects;
      stats.published += link.published;
      stats.acked += link.acked;
      stats.publishRefused += link.publishRefused;
    }
    return stats;
  }

  /** Closes every session and stops the ticker; waits for attempts in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    const links = () => [...this.#links.values(), ...this.#replacing.values()];
    await Promise.all(links().map((link) => link.stop()));
    await this.#preparing.idle();
    await this.#handshakes.idle();
    // An attempt that was deriving its key when we stopped may have opened a client since.
    await Promise.all(links().map((link) => link.stop()));
  }

  #dispatch(link: DeviceMqttLink): void {
    link.state = 'queued';
    void this.#preparing
      .run(async () => {
        const prepared = await link.prepare();
        // The derived key holds its `preparing` slot until its handshake has one.
        if (prepared) await this.#handshakes.start(() => link.connect(prepared));
      })
      .catch(() => undefined);
  }

  /** A replacement link just connected: it takes the current one's place, and the device reports the switch. */
  #promote(key: string): void {
    const replacement = this.#replacing.get(key);
    if (!replacement || replacement.state !== 'connected') {
      // A reconnect with a renewed key: the report again (the platform completes a renewal once), in
      // case the one sent at the switch was lost.
      const link = this.#links.get(key);
      if (!replacement && link?.state === 'connected' && link.keyId !== this.#keyId)
        void link.device.reportCertificateSwitch(link.targetId, link.keyId).catch(() => undefined);
      return;
    }
    this.#replacing.delete(key);
    const replaced = this.#links.get(key);
    this.#links.set(key, replacement);
    void replaced?.stop();
    void replacement.device.reportCertificateSwitch(replacement.targetId, replacement.keyId).catch(() => undefined);
  }

  #tick(): void {
    const now = Date.now();
    const date = new Date(now);
    for (const link of this.#replacing.values())
      if (link.state === 'waiting' && link.nextAttemptAt <= now) this.#dispatch(link);
    for (const link of this.#links.values()) {
      if (link.state === 'waiting' && link.nextAttemptAt <= now) this.#dispatch(link);
      else if (link.state === 'connected' && this.#telemetryOn && link.nextPublishAt <= now) {
        link.nextPublishAt = Math.max(link.nextPublishAt + this.#intervalMs, now + this.#intervalMs / 2);
        link.publish(date);
      }
    }
  }
}
