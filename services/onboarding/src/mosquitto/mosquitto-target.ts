/**
 * The Mosquitto adapter of the OnboardingTarget port, for real (docs/decisions/0001): the broker
 * trusts only the target's CA (cafile), refuses what its CRL lists (crlfile), and gives each device
 * the policies' rights under its own id (acl_file patterns); these three files plus a reload are
 * all it takes to admit devices, so onboarding costs the broker nothing per device. The broker's
 * agent writes them and reloads the broker, and reports the connections the broker logs: this
 * adapter reaches the broker over the network only (the agent over NATS, the broker's admin
 * listener over MQTT). Cutting a device off is a session takeover by the admin user. Dynamic
 * security holds the admin user only; a monitoring client (admin credentials) reports telemetry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import {
  BrokerTrustRefusedError,
  type BrokerAgentClient,
  type BrokerConnectionMessage,
  type BrokerConnectionsReport,
} from '@tunnelkey/broker-link';
import { mapBounded } from '@tunnelkey/concurrency';
import { describeError } from '@tunnelkey/errors';
import { TargetRefusedError, TargetUnreachableError, UnsafeTopicRightError } from '../errors.js';
import type {
  ConnectionParameters,
  DeviceOperationOutcome,
  DeviceRegistration,
  OnboardingTarget,
  RegisteredDevice,
  TargetObservation,
  TargetTrust,
  TargetWatch,
} from '../target-port/onboarding-target.js';
import {
  checkTopicRights,
  deviceIdFromTopic,
  deviceTopicPlan,
  telemetryFilters,
  type TopicRightSpec,
} from '../target-port/topic-plan.js';
import { brokerTrustOf } from './broker-trust.js';
import {
  adminMqttOptions,
  DynsecClient,
  type DefaultAclType,
  type DynsecEndpoint,
  type DynsecClientOptions,
} from './dynsec-client.js';
import { denyByDefaultCommand, unsafeDefaultAccess } from './default-access.js';
import { quarantineDevices, releaseDevices } from './mosquitto-quarantine.js';
import { takeSessionOver } from './session-takeover.js';

/** Admin connections opened at once to take device sessions over. */
const sessionTakeoversInFlight = 16;

/** The broker agent's side of the link: what this adapter needs of it. */
export type BrokerAgentLink = Pick<BrokerAgentClient, 'installTrust' | 'followConnections'>;

export interface MosquittoTargetSettings {
  targetId: string;
  /** What devices connect to. */
  host: string;
  tlsPort: number;
  /**
   * The admin listener and the dynsec admin credentials: plain MQTT on loopback or a private
   * network, or MQTT over TLS (`tls`) to a separate admin endpoint.
   */
  admin: { host?: string; port: number; username: string; password: string; tls?: { caPem: string } };
  /** The broker's agent: installs its trust, reports its connections. */
  agent: BrokerAgentLink;
  dynsec?: DynsecClientOptions;
  /**
   * Called when the broker's default ACL access allowed what it must deny (publishing, subscribing)
   * and connect set it to deny: the caller records it.
   */
  onDefaultAccessDenied?: (wasAllowed: readonly DefaultAclType[]) => void;
  clock?: () => Date;
}

export class MosquittoTarget implements OnboardingTarget {
  readonly kind = 'mosquitto' as const;
  readonly targetId: string;
  readonly #observers = new Set<(observation: TargetObservation) => void>();
  readonly #prefixTemplates = new Set<string>();
  readonly #filters = new Set<string>();
  readonly #clock: () => Date;
  #monitor: MqttClient | undefined;
  #connections: { stop(): void } | undefined;
  /** Devices whose sessions are being taken over to cut them off: the broker's "closing old connection" is a disable. */
  readonly #cuttingOff = new Set<string>();
  /** Client ids the admin user holds right now for a takeover (their own log lines are not the device's). */
  readonly #takeovers = new Set<string>();
  /** The parts of the agent's last report of who is connected, until all arrived. */
  #report: { reportId: string; parts: Map<number, readonly string[]> } | undefined;

  private constructor(
    private readonly settings: MosquittoTargetSettings,
    private readonly dynsec: DynsecClient,
  ) {
    this.targetId = settings.targetId;
    this.#clock = settings.clock ?? (() => new Date());
  }

  static async connect(settings: MosquittoTargetSettings): Promise<MosquittoTarget> {
    const dynsec = await DynsecClient.connect(adminEndpointOf(settings), settings.dynsec);
    try {
      await denyByDefault(dynsec, settings);
    } catch (error) {
      await dynsec.close().catch(() => undefined);
      throw error;
    }
    const target = new MosquittoTarget(settings, dynsec);
    target.#connections = settings.agent.followConnections((fact) => target.#onConnectionFact(fact));
    return target;
  }

  /** The agent writes the files and reloads the broker; resolves once the broker logged the reload. */
  async applyTrust(trust: TargetTrust): Promise<void> {
    const files = brokerTrustOf(trust);
    try {
      await this.settings.agent.installTrust(files);
    } catch (error) {
      const context = { targetId: this.targetId };
      const message = error instanceof Error ? error.message : describeError(error);
      if (error instanceof BrokerTrustRefusedError) throw new TargetRefusedError(message, context, { cause: error });
      throw new TargetUnreachableError(message, context, { cause: error });
    }
  }

  /**
   * Nothing to do at the broker: the device's target certificate admits it, the acl_file patterns
   * (applyTrust) give it its rights. Only its place is worked out: client id and topic prefix.
   */
  async registerDevices(devices: readonly DeviceRegistration[]): Promise<DeviceOperationOutcome<RegisteredDevice>[]> {
    return devices.map(({ deviceId, topicRights }) => {
      try {
        const plan = deviceTopicPlan(topicRights, deviceId);
        return {
          ok: true as const,
          deviceId,
          clientId: deviceId,
          roleName: patternSetName(topicRights),
          topicPrefix: plan.topicPrefix,
        };
      } catch (error) {
        if (!(error instanceof UnsafeTopicRightError)) throw error;
        return { ok: false as const, deviceId, reason: 'target-refused' as const, detail: error.message };
      }
    });
  }

  /**
   * Drops each device's live session the way MQTT does: the admin user connects with the device's
   * client id (devices use their certificate CN, which is their id), so the broker closes the older
   * session, and leaves again (session-takeover.ts: three packets, no MQTT client). One connect per
   * device and no configuration save: p50 1.7 ms, p99 4.2 ms per device measured on Mosquitto 2.0.11. The caller has made the target's CRL list the
   * device first, so its reconnect is refused in the handshake. A device whose session could not be
   * taken over (the admin listener unreachable) is reported as such, to be retried.
   */
  async disableDevices(deviceIds: readonly string[]): Promise<DeviceOperationOutcome[]> {
    const endpoint = adminEndpointOf(this.settings);
    const outcomes = new Map<string, DeviceOperationOutcome>();
    await mapBounded(deviceIds, sessionTakeoversInFlight, async (deviceId) => {
      // The agent reports the takeover; its report clears the entry again.
      this.#cuttingOff.add(deviceId);
      try {
        await takeSessionOver(endpoint, deviceId);
        outcomes.set(deviceId, { ok: true, deviceId });
      } catch (error) {
        this.#cuttingOff.delete(deviceId);
        outcomes.set(deviceId, unreachable(deviceId, error));
      }
    });
    return deviceIds.map((deviceId) => outcomes.get(deviceId)!);
  }

  /** The device keeps its session but may publish only to its quarantine topic (mosquitto-quarantine.ts). */
  quarantineDevices(deviceIds: readonly string[]): Promise<DeviceOperationOutcome[]> {
    return quarantineDevices(this.dynsec, deviceIds);
  }

  releaseDevices(deviceIds: readonly string[]): Promise<DeviceOperationOutcome[]> {
    return releaseDevices(this.dynsec, deviceIds);
  }

  connectionParameters(device: RegisteredDevice): ConnectionParameters {
    return {
      endpoint: { protocol: 'mqtts', host: this.settings.host, port: this.settings.tlsPort },
      clientId: device.clientId,
      topicPrefix: device.topicPrefix,
    };
  }

  async watch(observer: (observation: TargetObservation) => void): Promise<TargetWatch> {
    this.#observers.add(observer);
    await this.#ensureMonitor();
    return {
      stop: async () => {
        this.#observers.delete(observer);
      },
    };
  }

  async observeTopics(topicRights: readonly TopicRightSpec[]): Promise<void> {
    this.#prefixTemplates.add(checkTopicRights(topicRights));
    const added = telemetryFilters(topicRights).filter((filter) => !this.#filters.has(filter));
    for (const filter of added) this.#filters.add(filter);
    if (this.#monitor && added.length) await this.#monitor.subscribeAsync(added, { qos: 0 });
  }

  async #ensureMonitor(): Promise<void> {
    if (this.#monitor) return;
    const endpoint = adminEndpointOf(this.settings);
    try {
      this.#monitor = await connectAsync(
        adminMqttOptions(endpoint, `tk-onboarding-monitor-${randomBytes(6).toString('hex')}`),
      );
    } catch (error) {
      throw new TargetUnreachableError(
        `monitoring client cannot connect to ${endpoint.host}:${endpoint.port}`,
        { targetId: this.targetId },
        { cause: new Error(describeError(error)) },
      );
    }
    this.#monitor.on('message', (topic, payload) => this.#onTelemetry(topic, payload.length));
    if (this.#filters.size) await this.#monitor.subscribeAsync([...this.#filters], { qos: 0 });
  }

  #onTelemetry(topic: string, bytes: number): void {
    for (const template of this.#prefixTemplates) {
      const deviceId = deviceIdFromTopic(template, topic);
      if (deviceId) {
        this.#emit({ kind: 'telemetry', deviceId, topic, bytes, at: this.#clock() });
        return;
      }
    }
  }

  #onConnectionFact(fact: BrokerConnectionMessage): void {
    if (fact.kind === 'present') {
      this.#onReport(fact);
      return;
    }
    // Our own session takeovers (admin user, a device's client id): not the device coming or going.
    if (fact.kind === 'connected' && fact.username === this.settings.admin.username) {
      this.#takeovers.add(fact.clientId);
      return;
    }
    if (fact.kind === 'disconnected' && fact.reason !== 'session-taken-over' && this.#takeovers.delete(fact.clientId)) {
      this.#cuttingOff.delete(fact.clientId);
      return;
    }
    const at = this.#clock();
    // The broker does not log the negotiated TLS version or cipher per client.
    if (fact.kind === 'connected')
      this.#emit({ kind: 'connected', clientId: fact.clientId, at, tlsProtocol: 'unknown', cipher: 'unknown' });
    else {
      const cutOff = fact.reason === 'session-taken-over' && this.#cuttingOff.has(fact.clientId);
      this.#emit({
        kind: 'disconnected',
        clientId: fact.clientId,
        at,
        reason: cutOff ? 'client-disabled' : fact.reason,
      });
    }
  }

  /** Who is connected, once every part of a report arrived (a report missing a part is dropped: the next one says it all). */
  #onReport(part: BrokerConnectionsReport): void {
    if (this.#report?.reportId !== part.reportId) this.#report = { reportId: part.reportId, parts: new Map() };
    this.#report.parts.set(part.part, part.clientIds);
    if (this.#report.parts.size < part.parts) return;
    const clientIds = new Set([...this.#report.parts.values()].flat());
    this.#report = undefined;
    // A client id the admin user holds for a takeover is the device being cut off, not connected.
    for (const clientId of this.#takeovers) clientIds.delete(clientId);
    this.#emit({ kind: 'present', clientIds, reportId: part.reportId, at: this.#clock() });
  }

  #emit(observation: TargetObservation): void {
    for (const observer of this.#observers) observer(observation);
  }

  async close(): Promise<void> {
    this.#connections?.stop();
    this.#observers.clear();
    await this.#monitor?.endAsync(true);
    await this.dynsec.close();
  }
}

function adminEndpointOf(settings: MosquittoTargetSettings): DynsecEndpoint {
  const { admin } = settings;
  return {
    host: admin.host ?? settings.host,
    port: admin.port,
    username: admin.username,
    password: admin.password,
    ...(admin.tls ? { tls: admin.tls } : {}),
  };
}

/**
 * Devices get their rights from the acl_file only: dynamic security (which holds the admin user)
 * must grant nothing by default, so every admin connection checks the broker's default ACL access
 * and sets publishing and subscribing to deny where they were allowed. A broker whose default it
 * cannot read is refused.
 */
async function denyByDefault(dynsec: DynsecClient, settings: MosquittoTargetSettings): Promise<void> {
  const [current] = await dynsec.execute([{ command: 'getDefaultACLAccess' }]);
  const allowed = unsafeDefaultAccess(current);
  if (allowed.length === 0) return;
  const [set] = await dynsec.execute([denyByDefaultCommand(allowed)]);
  if (set?.error)
    throw new TargetRefusedError('the broker refused to deny publishing and subscribing by default', {
      targetId: settings.targetId,
      error: set.error.slice(0, 200),
    });
  settings.onDefaultAccessDenied?.(allowed);
}

function unreachable(deviceId: string, error: unknown): DeviceOperationOutcome<never> {
  return { ok: false, deviceId, reason: 'target-unreachable', detail: describeError(error) };
}

/** Names the acl_file pattern set a device's rights come from (an event field: AggregateId). */
function patternSetName(topicRights: readonly TopicRightSpec[]): string {
  const canonical = JSON.stringify([...topicRights].map((r) => `${r.access} ${r.topic}`).sort());
  return `acl-${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`;
}
