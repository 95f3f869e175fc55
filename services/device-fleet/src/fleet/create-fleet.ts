import { availableParallelism } from 'node:os';
import {
  CertificateMessage,
  ConnectionParametersMessage,
  RejectionMessage,
  deviceSubjectRoot,
  parseDeviceSubject,
} from '@tunnelkey/contracts';
import type { CryptoKey } from '@tunnelkey/device-protocol';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { OperatingConditions, PufProfile, PufProfileName } from '@tunnelkey/puf';
import { InvalidFleetOptionError } from '../errors.js';
import { DeviceHardwarePool } from '../hardware/device-hardware-pool.js';
import { MqttFleet, emptyMqttStats, type MqttConnectSummary, type MqttFleetOptions } from '../mqtt/mqtt-fleet.js';
import { pinPlatformKey, type PinnedPlatformKey } from '../simulated-device/pinned-platform-key.js';
import { SimulatedDevice, type DeviceTransport } from '../simulated-device/simulated-device.js';
import { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import { planFaults, type DeviceFault, type FleetFaults } from './fault-plan.js';
import { emptyByState, FleetCounters, type FleetStats } from './fleet-stats.js';
import { identityFile } from './identity-file.js';
import { attestEnrolmentKey, type ManufacturerKey } from '../simulated-device/manufacturer-attestation.js';
import { planFirmwareFaults, type FirmwareFault, type FirmwareFaultCounts } from '../firmware/firmware-faults.js';
import type { FirmwareUpdaterOptions } from '../firmware/firmware-updater.js';
import { SharedSignatureChecks } from '../firmware/shared-signature-checks.js';
import { FleetHeartbeats } from '../integrity/fleet-heartbeats.js';

export interface FleetOptions {
  /** The bus. Without it the fleet is offline-only (benchmarks, unit tests): nothing is sent or received. */
  nats?: NatsConnection;
  /** Subject namespace ('' in production; tests use their fixture's). */
  namespace?: string;
  /** Number of devices. */
  size: number;
  profile?: PufProfile | PufProfileName;
  /** Device i's silicon seed is `<seedBase>/<i>`: the same base makes the same fleet. */
  seedBase?: string;
  /** Operating conditions of every device (change one with `fleet.device(id).conditions`). */
  temperatureC?: number;
  ageYears?: number;
  voltageDelta?: number;
  faults?: FleetFaults;
  /** The platform's downlink public key the devices pin. Without it, devices refuse every platform message. */
  platformPublicKey?: CryptoKey | Uint8Array | string | PinnedPlatformKey;
  platformKeyId?: string;
  firmwareVersion?: string;
  /** Product line (hardware id) of every device: OTA updates for another product are refused. */
  product?: string;
  /** Devices report their firmware-decryption keys right after enrolling (default: only when asked). */
  firmwareKeysAtEnrolment?: boolean;
  /** Over-the-air update timing of every device (stall retry, offline-fault duration, chunk window). */
  firmwareUpdates?: FirmwareUpdaterOptions;
  /** How many devices get each OTA fault (never a device already offline or tampered). */
  firmwareFaults?: FirmwareFaultCounts;
  /**
   * Devices share one memo of firmware signature checks (default true): identical checks over
   * identical bytes run once per fleet, not once per simulated device (see SharedSignatureChecks).
   */
  shareSignatureChecks?: boolean;
  /**
   * The manufacturer key the factory signs every device's enrolment public key with (P-256; see
   * `manufacturerKey`): devices send that attestation with their enrolment-key-report. Absent:
   * devices are unattested (an open enrolment-key request holds them for an operator).
   */
  manufacturerKey?: ManufacturerKey;
  /**
   * Worker threads standing for the devices' own hardware: their PUF reads and key derivations run
   * there instead of on the fleet's (and, in one process, the platform's) event loop. 0 (default):
   * in this thread. Needs the package built (the worker is loaded from dist/).
   */
  hardwareThreads?: number;
  /** Device operations running at once (PUF + ECDSA); default 2 x cores. */
  concurrency?: number;
  /** Inbox messages waiting for a slot before new ones are dropped (default 50,000). */
  maxQueued?: number;
  onProgress?: (progress: { phase: 'manufacturing'; done: number; total: number }) => void;
  clock?: () => Date;
  /**
   * A device with a CSR still unanswered this long after it sent it sends it again (same
   * requestId), the wait doubling up to 8x (ms; default 30,000): a certificate lost on its way
   * (a bus restart) is delivered again.
   */
  csrResendMs?: number;
}

/** How often the fleet looks for CSRs to send again. */
const csrResendSweepMs = 1_000;

export interface AnnounceSummary {
  announced: number;
  offline: number;
  failed: number;
}

export interface Fleet {
  readonly size: number;
  readonly namespace: string;
  /** False when no platform key was given: every platform message will be refused. */
  readonly platformKeyPinned: boolean;
  device(deviceId: string): SimulatedDevice | undefined;
  devices(): IterableIterator<SimulatedDevice>;
  /** The fault injected into a device, if any. */
  faultOf(deviceId: string): DeviceFault | undefined;
  /** The OTA fault injected into a device, if any. */
  firmwareFaultOf(deviceId: string): FirmwareFault | undefined;
  /** The manufacturer's identity file for the registry's ImportIdentities. */
  identityFile(format: 'json' | 'csv'): string;
  /** Every online device publishes `announce`. */
  announce(): Promise<AnnounceSummary>;
  stats(): FleetStats;
  /** Resolves when no received message is still being handled. */
  idle(): Promise<void>;
  /**
   * Devices onboarded to a target connect to it over MQTT/TLS (certificate + PUF-derived key) and
   * publish telemetry; devices onboarded later connect as their connection parameters arrive.
   * Options apply on the first call. Progress is in `stats().mqtt`.
   */
  connect(options?: MqttFleetOptions): MqttConnectSummary;
  /** Devices stay connected and publish nothing more. */
  stopTelemetry(): void;
  /** Connected devices publish again at their telemetry interval. */
  startTelemetry(): void;
  /** Closes every MQTT session (devices stop reconnecting). */
  disconnect(): Promise<void>;
  /** Integrity monitoring: heartbeats every period (`heartbeats.start(ms)`) and the integrity faults (`inject`). */
  readonly heartbeats: FleetHeartbeats;
  /** Unsubscribes, closes MQTT sessions and waits for in-flight work. Leaves the NATS connection to its owner. */
  stop(): Promise<void>;
}

function isPinned(key: unknown): key is PinnedPlatformKey {
  return typeof key === 'object' && key !== null && 'keyId' in key && 'publicKey' in key;
}

/** The one inbox subscription for all devices: `[<ns>.]dev.*.inbox.>`. */
export function fleetInboxFilter(namespace: string): string {
  return `${namespace ? `${namespace}.` : ''}${deviceSubjectRoot}.*.inbox.>`;
}

/**
 * Inbox messages a device handles without its PUF (verified, then stored). They have a limiter of
 * their own: a renewing device's new certificate and connection parameters waited behind a
 * thousand other devices' CSR requests, each waiting for the simulated silicon, so the batch's
 * reconnects all came after its CSRs (bench:renew). Real devices each handle their own messages;
 * one device's messages stay in arrival order (SimulatedDevice serialises them).
 */
const withoutKeys = new Set<string>([CertificateMessage.kind, ConnectionParametersMessage.kind, RejectionMessage.kind]);

/**
 * Manufactures and enrols `size` simulated devices, then (with a bus) serves the device protocol
 * for all of them through one wildcard subscription, with bounded concurrency for the crypto.
 */
export async function createFleet(options: FleetOptions): Promise<Fleet> {
  const { size, namespace = '', seedBase = 'tunnelkey-fleet', nats } = options;
  if (!Number.isInteger(size) || size < 1)
    throw new InvalidFleetOptionError('size must be a positive integer', { size });
  const concurrency = options.concurrency ?? 2 * availableParallelism();
  const limiter = new ConcurrencyLimiter(concurrency, options.maxQueued ?? 50_000);
  const keyless = new ConcurrencyLimiter(concurrency, options.maxQueued ?? 50_000);
  const counters = new FleetCounters();
  const plan = planFaults(size, seedBase, options.faults);
  const firmwarePlan = planFirmwareFaults(size, seedBase, options.firmwareFaults, new Set(plan.keys()));
  const signatureChecks = options.shareSignatureChecks === false ? undefined : new SharedSignatureChecks();
  const firmwareUpdates = {
    ...options.firmwareUpdates,
    ...(signatureChecks ? { signatureCheck: signatureChecks.check } : {}),
  };
  const platformKey =
    options.platformPublicKey === undefined
      ? undefined
      : isPinned(options.platformPublicKey)
        ? options.platformPublicKey
        : await pinPlatformKey(options.platformPublicKey, options.platformKeyId);
  const conditions: Partial<OperatingConditions> = {
    ...(options.temperatureC === undefined ? {} : { temperatureC: options.temperatureC }),
    ...(options.ageYears === undefined ? {} : { ageYears: options.ageYears }),
    ...(options.voltageDelta === undefined ? {} : { voltageDelta: options.voltageDelta }),
  };
  /** Filled once the devices exist: the heartbeats keep each device's last one (a replay fault sends it again). */
  const heartbeatTap: { heartbeats?: FleetHeartbeats } = {};
  const transport: DeviceTransport = {
    publish: (subject, data) => {
      nats?.publish(subject, data);
      const { heartbeats } = heartbeatTap;
      const parts = heartbeats && subject.endsWith('.heartbeat') ? parseDeviceSubject(subject, namespace) : undefined;
      if (parts) heartbeats?.sent(parts.deviceId, subject, data);
    },
  };
  const hardwareThreads = options.hardwareThreads ?? 0;
  if (!Number.isInteger(hardwareThreads) || hardwareThreads < 0)
    throw new InvalidFleetOptionError('hardwareThreads must be a non-negative integer', { hardwareThreads });
  const hardware = hardwareThreads > 0 ? new DeviceHardwarePool(hardwareThreads) : undefined;
  let mqtt: MqttFleet | undefined;
  const observer = (deviceId: string, observation: Parameters<FleetCounters['observe']>[0]) => {
    counters.observe(observation);
    // Once connecting is on, a device that has just been onboarded connects without being asked; so
    // does one whose certificate came after its connection parameters (a certificate sent again).
    if (
      mqtt &&
      observation.type === 'accepted' &&
      (observation.kind === 'connection-parameters' || observation.kind === 'certificate')
    ) {
      const device = byId.get(deviceId);
      if (device) mqtt.ensure(device);
    }
  };

  const byId = new Map<string, SimulatedDevice>();
  const faults = new Map<string, DeviceFault>();
  const firmwareFaults = new Map<string, FirmwareFault>();
  const faultCounts = { offline: 0, tamperedHelperData: 0, tamperedFirmware: 0 };
  let done = 0;
  const manufacturing = Array.from({ length: size }, (_, index) =>
    limiter.run(async () => {
      const device = await SimulatedDevice.manufacture({
        seed: `${seedBase}/${index}`,
        profile: options.profile ?? 'sram',
        firmwareVersion: options.firmwareVersion ?? '1.0.0',
        ...(options.product ? { product: options.product } : {}),
        ...(options.firmwareKeysAtEnrolment ? { firmwareKeysAtEnrolment: true } : {}),
        firmwareUpdates,
        transport,
        namespace,
        conditions: { ...conditions },
        observer,
        ...(platformKey ? { platformKey } : {}),
        ...(hardware ? { hardware } : {}),
        ...(options.clock ? { clock: options.clock } : {}),
      });
      if (options.manufacturerKey)
        device.flash.manufacturerAttestation = attestEnrolmentKey(
          options.manufacturerKey,
          device.flash.enrolmentPublicKey,
        );
      // Faults happen after the factory: the identity file holds the genuine enrolment.
      const fault = plan.get(index);
      if (fault === 'offline') {
        device.online = false;
        faultCounts.offline++;
      } else if (fault === 'tampered-helper-data') {
        device.corruptHelperData();
        faultCounts.tamperedHelperData++;
      } else if (fault === 'tampered-firmware') {
        device.tamperFirmware();
        faultCounts.tamperedFirmware++;
      }
      if (fault) faults.set(device.deviceId, fault);
      const firmwareFault = firmwarePlan.get(index);
      if (firmwareFault) {
        device.firmware.faults.add(firmwareFault);
        firmwareFaults.set(device.deviceId, firmwareFault);
      }
      options.onProgress?.({ phase: 'manufacturing', done: ++done, total: size });
      return device;
    }),
  );
  // Keep index order: device i is always the i-th row of the identity file.
  try {
    for (const device of await Promise.all(manufacturing)) byId.set(device.deviceId, device);
  } catch (error) {
    await hardware?.close();
    throw error;
  }

  const fleetHeartbeats = new FleetHeartbeats({
    devices: () => byId.values(),
    device: (deviceId) => byId.get(deviceId),
    limiter,
    publish: (subject, data) => nats?.publish(subject, data),
    cloneOptions: () => ({
      transport,
      namespace,
      conditions: { ...conditions },
      ...(platformKey ? { platformKey } : {}),
      ...(hardware ? { hardware } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    }),
  });
  heartbeatTap.heartbeats = fleetHeartbeats;

  const disconnect = async () => {
    const closing = mqtt;
    mqtt = undefined;
    await closing?.close();
  };

  const csrResendMs = options.csrResendMs ?? 30_000;
  if (!Number.isFinite(csrResendMs) || csrResendMs <= 0)
    throw new InvalidFleetOptionError('csrResendMs must be a positive number', { csrResendMs });
  const csrResend = nats
    ? setInterval(() => {
        const now = Date.now();
        for (const device of byId.values())
          if (device.hasOverdueCsr(csrResendMs, options.clock?.().getTime() ?? now))
            limiter.tryRun(() => device.resendOverdueCsrs(csrResendMs))?.catch(() => undefined);
      }, csrResendSweepMs)
    : undefined;
  csrResend?.unref();

  let subscription: Subscription | undefined;
  if (nats) {
    subscription = nats.subscribe(fleetInboxFilter(namespace), {
      callback: (error, msg) => {
        if (error) return;
        const parts = parseDeviceSubject(msg.subject, namespace);
        const device = parts ? byId.get(parts.deviceId) : undefined;
        if (!device) {
          counters.messages.unknownDevice++;
          return;
        }
        counters.messages.received++;
        const lane = withoutKeys.has(parts!.kind) ? keyless : limiter;
        const running = lane.tryRun(() => device.receive(msg.subject, new Uint8Array(msg.data)));
        if (!running) counters.messages.overloadDrops++;
        else running.catch(() => undefined); // receive never throws for bus input; belt and braces
      },
    });
  }

  return {
    size,
    namespace,
    platformKeyPinned: platformKey !== undefined,
    device: (deviceId) => byId.get(deviceId),
    devices: () => byId.values(),
    faultOf: (deviceId) => faults.get(deviceId),
    firmwareFaultOf: (deviceId) => firmwareFaults.get(deviceId),
    identityFile: (format) => identityFile(byId.values(), format),
    async announce() {
      const results = await Promise.all([...byId.values()].map((device) => limiter.run(() => device.announce())));
      const offline = [...byId.values()].filter((d) => !d.online).length;
      const announced = results.filter(Boolean).length;
      return { announced, offline, failed: results.length - announced - offline };
    },
    stats() {
      const byState = emptyByState();
      for (const device of byId.values()) byState[device.state]++;
      return {
        size,
        byState,
        faults: { ...faultCounts },
        messages: { ...counters.messages },
        refusedByCode: { ...counters.refusedByCode },
        sentByKind: { ...counters.sentByKind },
        inFlight: { active: limiter.active + keyless.active, waiting: limiter.waiting + keyless.waiting },
        hardware: { threads: hardware?.threads ?? 0, pending: hardware?.pending ?? 0 },
        mqtt: mqtt ? mqtt.stats() : emptyMqttStats(),
        firmware: { ...counters.firmware },
      };
    },
    idle: () => Promise.all([limiter.idle(), keyless.idle()]).then(() => undefined),
    connect(mqttOptions) {
      mqtt ??= new MqttFleet(mqttOptions);
      mqtt.startTelemetry();
      return mqtt.connectAll(byId.values());
    },
    stopTelemetry: () => mqtt?.stopTelemetry(),
    startTelemetry: () => mqtt?.startTelemetry(),
    disconnect,
    heartbeats: fleetHeartbeats,
    async stop() {
      clearInterval(csrResend);
      fleetHeartbeats.stop();
      await disconnect();
      if (subscription) {
        const sub = subscription;
        subscription = undefined;
        await sub.drain().catch(() => sub.unsubscribe());
      }
      await Promise.all([limiter.idle(), keyless.idle()]);
      for (const device of byId.values()) device.firmware.stop();
      await hardware?.close();
    },
  };
}
