/**
 * One device's MQTT session with one target: mutual TLS with its certificate and PUF-derived key,
 * client id = device id, QoS 1 telemetry under its topic prefix (MQTT 5, so a refused publish comes
 * back as a PUBACK reason code instead of silence). It never schedules anything itself: the
 * MqttFleet's one shared ticker starts its attempts (through a bounded limiter) and its publishes.
 */
import { MqttClient, type ErrorWithReasonCode, type IClientOptions } from 'mqtt';
import { quarantineTopic } from '@tunnelkey/contracts';
import { isDeviceKeyUnavailableError } from '../errors.js';
import type { StoredConnectionParameters } from '../simulated-device/device-flash.js';
import { isDeviceKeyId, type DeviceKeyId } from '../simulated-device/key-ids.js';
import type { SimulatedDevice } from '../simulated-device/simulated-device.js';
import { deviceTlsIdentity, type DeviceTlsIdentity } from './device-tls-identity.js';
import { deviceTlsStream } from './device-tls-stream.js';
import { FridgeTelemetry } from './fridge-telemetry.js';

export type LinkState = 'waiting' | 'queued' | 'connecting' | 'connected' | 'stopped';

/** Why an attempt did not reach CONNACK success; stable codes for stats and tests. */
export type ConnectFailure =
  /** The TLS handshake failed: our certificate refused (unknown CA, revoked) or the server's not trusted. */
  | 'tls-refused'
  /** CONNACK with a refusal reason (not authorised, banned...). */
  | 'connack-refused'
  /** Nothing listens / connection reset before TLS. */
  | 'unreachable'
  /** The broker closed the connection before CONNACK without saying why. */
  | 'closed-before-connack'
  | 'timeout'
  /** The PUF could not rebuild the TLS key (tampered helper data). */
  | 'key-unavailable'
  | 'other';

export type MqttLinkEvent =
  | {
      type: 'connected';
      deviceId: string;
      targetId: string;
      at: number;
      attempt: number;
      deriveMs: number;
      handshakeMs: number;
    }
  | {
      type: 'connect-failed';
      deviceId: string;
      targetId: string;
      at: number;
      attempt: number;
      reason: ConnectFailure;
      code?: string;
    }
  | { type: 'disconnected'; deviceId: string; targetId: string; at: number }
  /** The broker acknowledged this device's first telemetry message on this target (once per link). */
  | { type: 'first-publish-acked'; deviceId: string; targetId: string; at: number }
  | { type: 'publish-refused'; deviceId: string; targetId: string; at: number; reasonCode: number }
  /** Its telemetry refused as not authorised, the device reported on its quarantine topic: acked or refused too. */
  | { type: 'quarantine-report'; deviceId: string; targetId: string; at: number; acked: boolean };

export interface LinkSettings {
  keyId: DeviceKeyId;
  connectTimeoutMs: number;
  keepaliveSeconds: number;
  backoff: { initialMs: number; maxMs: number };
  telemetryIntervalMs: number;
  /** Read on every connect: when on, the first reading goes right after CONNACK. */
  telemetryEnabled(): boolean;
  emit(event: MqttLinkEvent): void;
}

/** A connection attempt whose key is derived, waiting for its handshake. */
export interface PreparedAttempt {
  attempt: number;
  identity: DeviceTlsIdentity;
}

/** MQTT 5 PUBACK reason: not authorised (what a quarantined device's telemetry gets). */
const notAuthorised = 135;
const refusedConnack = new Set([128, 133, 134, 135, 136, 138, 140, 156, 157]);

export class DeviceMqttLink {
  state: LinkState = 'waiting';
  /** Epoch ms; the ticker starts an attempt once it has passed. */
  nextAttemptAt = 0;
  nextPublishAt = 0;
  attempts = 0;
  connects = 0;
  disconnects = 0;
  consecutiveFailures = 0;
  lastFailure: ConnectFailure | undefined;
  published = 0;
  acked = 0;
  publishRefused = 0;
  /** Reports sent on its quarantine topic (after telemetry refused as not authorised). */
  quarantineReports = 0;
  /** At least one telemetry message acknowledged on the current connection. */
  deliveringNow = false;
  readonly topic: string;
  readonly #telemetry: FridgeTelemetry;
  #client: MqttClient | undefined;
  #firstAckSeen = false;

  constructor(
    readonly device: SimulatedDevice,
    readonly targetId: string,
    readonly parameters: StoredConnectionParameters,
    private readonly settings: LinkSettings,
  ) {
    this.topic = `${parameters.topicPrefix}/telemetry`;
    this.#telemetry = new FridgeTelemetry(device.deviceId);
  }

  get deviceId(): string {
    return this.device.deviceId;
  }

  /** The key it connects with: the one its target certificate certifies (a renewal's new key), else the fleet's. */
  get keyId(): DeviceKeyId {
    const keyId = this.parameters.keyId;
    return keyId && isDeviceKeyId(keyId) ? keyId : this.settings.keyId;
  }

  get everDelivered(): boolean {
    return this.#firstAckSeen;
  }

  /**
   * An attempt's first step, on the device's own silicon: the key re-derived from the PUF into a
   * TLS identity. Undefined when it failed (a retry is scheduled) or the link was stopped.
   */
  async prepare(): Promise<PreparedAttempt | undefined> {
    if (this.state === 'stopped') return undefined;
    this.state = 'connecting';
    const attempt = ++this.attempts;
    try {
      const identity = await deviceTlsIdentity(this.device, this.keyId, this.parameters);
      return this.state === 'connecting' ? { attempt, identity } : undefined; // stopped while deriving
    } catch (error) {
      this.#failed(
        attempt,
        isDeviceKeyUnavailableError(error) ? 'key-unavailable' : 'other',
        (error as { code?: string }).code,
      );
      return undefined;
    }
  }

  /** An attempt's second step: the handshake and CONNECT with the prepared identity; resolved once connected or failed (then a retry is scheduled). */
  async connect(prepared: PreparedAttempt): Promise<void> {
    if (this.state !== 'connecting') return; // stopped while waiting for its turn
    const { attempt, identity } = prepared;
    const handshakeStarted = Date.now();
    const { endpoint, clientId } = this.parameters;
    const options: IClientOptions = {
      protocol: 'mqtts',
      host: endpoint.host,
      port: endpoint.port,
      clientId,
      protocolVersion: 5,
      clean: true,
      properties: { sessionExpiryInterval: 0 },
      // Reconnects are ours: each one re-derives the key and waits its backoff on the shared ticker.
      reconnectPeriod: 0,
      connectTimeout: this.settings.connectTimeoutMs,
      keepalive: this.settings.keepaliveSeconds,
      resubscribe: false,
      queueQoSZero: false,
    };
    // The secure context carries key + certificate + the target's CA (device-tls-stream.ts checks the broker's name).
    const client = new MqttClient(deviceTlsStream(endpoint, identity.secureContext), options);
    client.on('error', () => undefined); // as mqtt.connect() does: the listeners below read the errors
    this.#client = client;
    await new Promise<void>((resolve) => {
      let lastError: (Error & { code?: string | number }) | undefined;
      let settled = false;
      client.on('error', (error) => (lastError = error as Error & { code?: string | number }));
      client.once('connect', () => {
        settled = true;
        const at = Date.now();
        this.state = 'connected';
        this.device.connectedWith(this.keyId);
        this.connects++;
        this.consecutiveFailures = 0;
        this.lastFailure = undefined;
        this.deliveringNow = false;
        this.settings.emit({
          type: 'connected',
          deviceId: this.deviceId,
          targetId: this.targetId,
          at,
          attempt,
          deriveMs: identity.deriveMs,
          handshakeMs: at - handshakeStarted,
        });
        // First reading at once, later ones spread over the interval so devices that connected together do not publish together.
        this.nextPublishAt = at + this.settings.telemetryIntervalMs * (0.5 + Math.random() * 0.5);
        if (this.settings.telemetryEnabled()) this.publish(new Date(at));
        resolve();
      });
      client.once('close', () => {
        client.removeAllListeners();
        client.on('error', () => undefined); // late socket errors after close must not go unhandled
        client.end(true);
        if (this.#client === client) this.#client = undefined;
        if (!settled) {
          settled = true;
          const timedOut = !lastError && Date.now() - handshakeStarted >= this.settings.connectTimeoutMs;
          this.#failed(
            attempt,
            timedOut ? 'timeout' : classify(lastError),
            lastError?.code === undefined ? undefined : String(lastError.code),
          );
          resolve();
          return;
        }
        if (this.state === 'stopped') return;
        this.disconnects++;
        this.deliveringNow = false;
        this.settings.emit({ type: 'disconnected', deviceId: this.deviceId, targetId: this.targetId, at: Date.now() });
        // Dropped (kicked by the broker, network): come back soon, with backoff if it keeps happening.
        this.consecutiveFailures++;
        this.#scheduleRetry();
      });
    });
  }

  /** Publishes one reading (QoS 1). Called by the shared ticker. */
  publish(now: Date): void {
    const client = this.#client;
    if (this.state !== 'connected' || !client) return;
    this.published++;
    client.publish(this.topic, JSON.stringify(this.#telemetry.next(now)), { qos: 1 }, (error) => {
      if (!error) {
        this.acked++;
        this.deliveringNow = true;
        if (!this.#firstAckSeen) {
          this.#firstAckSeen = true;
          this.settings.emit({
            type: 'first-publish-acked',
            deviceId: this.deviceId,
            targetId: this.targetId,
            at: Date.now(),
          });
        }
        return;
      }
      const reasonCode = (error as ErrorWithReasonCode).code;
      if (typeof reasonCode === 'number') {
        // Connected but without rights (not onboarded, or deprovisioned): the broker says so per message.
        this.publishRefused++;
        this.deliveringNow = false;
        this.settings.emit({
          type: 'publish-refused',
          deviceId: this.deviceId,
          targetId: this.targetId,
          at: Date.now(),
          reasonCode,
        });
        if (reasonCode === notAuthorised) this.#reportQuarantine(client, now);
      }
    });
  }

  /** Quarantined (its telemetry not authorised): it says so on the one topic left to it. */
  #reportQuarantine(client: MqttClient, now: Date): void {
    const report = {
      deviceId: this.deviceId,
      at: now.toISOString(),
      refused: 'telemetry',
      publishRefused: this.publishRefused,
    };
    client.publish(quarantineTopic(this.deviceId), JSON.stringify(report), { qos: 1 }, (error) => {
      this.quarantineReports++;
      this.settings.emit({
        type: 'quarantine-report',
        deviceId: this.deviceId,
        targetId: this.targetId,
        at: Date.now(),
        acked: !error,
      });
    });
  }

  /** Closes the session for good (fleet stop or disconnect). */
  async stop(): Promise<void> {
    this.state = 'stopped';
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.endAsync(true).catch(() => undefined);
  }

  #failed(attempt: number, reason: ConnectFailure, code?: string): void {
    if (this.state === 'stopped') return;
    this.consecutiveFailures++;
    this.lastFailure = reason;
    this.settings.emit({
      type: 'connect-failed',
      deviceId: this.deviceId,
      targetId: this.targetId,
      at: Date.now(),
      attempt,
      reason,
      ...(code ? { code } : {}),
    });
    this.#scheduleRetry();
  }

  /** Exponential backoff with jitter, so a broker restart is not met by every device at the same instant. */
  #scheduleRetry(): void {
    const { initialMs, maxMs } = this.settings.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(20, Math.max(0, this.consecutiveFailures - 1)));
    this.nextAttemptAt = Date.now() + ceiling * (0.5 + Math.random() * 0.5);
    this.state = 'waiting';
  }
}

function classify(error: (Error & { code?: string | number }) | undefined): ConnectFailure {
  if (!error) return 'closed-before-connack';
  const code = error.code;
  if (typeof code === 'number') return refusedConnack.has(code) || code >= 128 ? 'connack-refused' : 'other';
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND')
    return 'unreachable';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'closed-before-connack';
  if (
    typeof code === 'string' &&
    (code.startsWith('ERR_SSL') ||
      code.startsWith('ERR_TLS') ||
      code.includes('CERT') ||
      code === 'DEPTH_ZERO_SELF_SIGNED_CERT')
  )
    return 'tls-refused';
  if (/alert|certificate|TLS not authorized/i.test(error.message)) return 'tls-refused';
  return 'other';
}
