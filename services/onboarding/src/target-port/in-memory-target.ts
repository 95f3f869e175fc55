/**
 * In-memory doubles of the target port, for slice tests: a target that keeps its devices, trust
 * and watchers in maps, lets a test play the devices (connect, publish, drop) and fail on demand.
 */
import { TargetRefusedError, TargetUnreachableError } from '../errors.js';
import type {
  ConnectionParameters,
  DeviceOperationOutcome,
  DeviceRegistration,
  OnboardingTarget,
  RegisteredDevice,
  TargetAddress,
  TargetAdminCredentials,
  TargetConnector,
  TargetObservation,
  TargetTrust,
  TargetWatch,
} from './onboarding-target.js';
import { deviceTopicPlan, type TopicRightSpec } from './topic-plan.js';

export class InMemoryTarget implements OnboardingTarget {
  readonly kind = 'mosquitto' as const;
  /** Device id -> its registration and whether it is enabled. */
  readonly devices = new Map<string, { registered: RegisteredDevice; enabled: boolean }>();
  /** Every trust applied, in order (the last one is in force). */
  readonly trustApplied: TargetTrust[] = [];
  readonly observedTopics: TopicRightSpec[][] = [];
  /** The port's calls in order (what came first: trust or devices). */
  readonly calls: ('applyTrust' | 'registerDevices' | 'disableDevices' | 'quarantineDevices' | 'releaseDevices')[] = [];
  /** Devices restricted to their quarantine topic. */
  readonly quarantined = new Set<string>();
  /** Size of each registerDevices request. */
  readonly registerRequests: number[] = [];
  /** Set to make the next calls fail as an unreachable target would. */
  unreachable = false;
  /** Device ids whose registration the target refuses. */
  readonly refuses = new Set<string>();
  /** Runs when a registerDevices request arrives, before the target applies it: a test plays what happens meanwhile. */
  beforeRegister: ((devices: readonly DeviceRegistration[]) => Promise<void>) | undefined;
  closed = false;
  readonly #observers = new Set<(observation: TargetObservation) => void>();

  constructor(
    readonly targetId: string,
    readonly address: TargetAddress,
  ) {}

  async applyTrust(trust: TargetTrust): Promise<void> {
    this.calls.push('applyTrust');
    this.#reachable();
    this.trustApplied.push({ anchors: [...trust.anchors], crls: [...trust.crls], topicRights: [...trust.topicRights] });
  }

  async registerDevices(devices: readonly DeviceRegistration[]): Promise<DeviceOperationOutcome<RegisteredDevice>[]> {
    this.calls.push('registerDevices');
    this.registerRequests.push(devices.length);
    await this.beforeRegister?.(devices);
    return devices.map(({ deviceId, topicRights }) => {
      if (this.unreachable) return { ok: false, deviceId, reason: 'target-unreachable', detail: 'down' };
      if (this.refuses.has(deviceId)) return { ok: false, deviceId, reason: 'target-refused', detail: 'refused' };
      const registered = {
        deviceId,
        clientId: deviceId,
        roleName: 'acl-in-memory',
        topicPrefix: deviceTopicPlan(topicRights, deviceId).topicPrefix,
      };
      this.devices.set(deviceId, { registered, enabled: true });
      return { ok: true, ...registered };
    });
  }

  async disableDevices(deviceIds: readonly string[]): Promise<DeviceOperationOutcome[]> {
    this.calls.push('disableDevices');
    return deviceIds.map((deviceId) => {
      if (this.unreachable) return { ok: false, deviceId, reason: 'target-unreachable', detail: 'down' };
      const device = this.devices.get(deviceId);
      if (device?.enabled) {
        device.enabled = false;
        this.drop(deviceId, 'client-disabled');
      }
      return { ok: true, deviceId };
    });
  }

  async quarantineDevices(deviceIds: readonly string[]): Promise<DeviceOperationOutcome[]> {
    this.calls.push('quarantineDevices');
    return this.#restrict(deviceIds, (deviceId) => this.quarantined.add(deviceId));
  }

  async releaseDevices(deviceIds: readonly string[]): Promise<DeviceOperationOutcome[]> {
    this.calls.push('releaseDevices');
    return this.#restrict(deviceIds, (deviceId) => this.quarantined.delete(deviceId));
  }

  #restrict(deviceIds: readonly string[], apply: (deviceId: string) => void): DeviceOperationOutcome[] {
    return deviceIds.map((deviceId) => {
      if (this.unreachable) return { ok: false, deviceId, reason: 'target-unreachable', detail: 'down' };
      apply(deviceId);
      return { ok: true, deviceId };
    });
  }

  connectionParameters(device: RegisteredDevice): ConnectionParameters {
    return {
      endpoint: { protocol: 'mqtts', host: this.address.host, port: this.address.tlsPort },
      clientId: device.clientId,
      topicPrefix: device.topicPrefix,
    };
  }

  async watch(observer: (observation: TargetObservation) => void): Promise<TargetWatch> {
    this.#observers.add(observer);
    return { stop: async () => void this.#observers.delete(observer) };
  }

  async observeTopics(topicRights: readonly TopicRightSpec[]): Promise<void> {
    this.#reachable();
    this.observedTopics.push([...topicRights]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.#observers.clear();
  }

  // ---- the devices' side, played by a test ----

  /** Client ids connected now (connect adds, drop removes): what `reportPresent` reports. */
  readonly present = new Set<string>();
  #reports = 0;

  connect(clientId: string, at = new Date()): void {
    this.present.add(clientId);
    this.#emit({ kind: 'connected', clientId, at, tlsProtocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' });
  }

  drop(clientId: string, reason: 'client-closed' | 'client-disabled' = 'client-closed', at = new Date()): void {
    this.present.delete(clientId);
    this.#emit({ kind: 'disconnected', clientId, at, reason });
  }

  /** The target's periodic report of who is connected (`present`, or the given client ids). */
  reportPresent(at = new Date(), clientIds: Iterable<string> = this.present): void {
    this.#emit({ kind: 'present', clientIds: new Set(clientIds), reportId: `report-${++this.#reports}`, at });
  }

  publish(deviceId: string, topic: string, bytes: number, at = new Date()): void {
    this.#emit({ kind: 'telemetry', deviceId, topic, bytes, at });
  }

  #emit(observation: TargetObservation): void {
    for (const observer of this.#observers) observer(observation);
  }

  #reachable(): void {
    if (this.unreachable) throw new TargetUnreachableError('in-memory target is down', { targetId: this.targetId });
  }
}

/** Opens InMemoryTargets; refuses admin credentials other than the ones it was given per target. */
export class InMemoryTargetConnector implements TargetConnector {
  readonly targets = new Map<string, InMemoryTarget>();
  /** Every connection attempt, refused ones included. */
  readonly attempts: TargetAddress[] = [];
  /** targetId -> the admin password the target accepts (any, when unset). */
  readonly passwords = new Map<string, string>();

  async connect(address: TargetAddress, credentials: TargetAdminCredentials): Promise<OnboardingTarget> {
    this.attempts.push(address);
    const expected = this.passwords.get(address.targetId);
    if (expected !== undefined && expected !== credentials.password) {
      throw new TargetRefusedError('not authorised', { targetId: address.targetId });
    }
    const target = new InMemoryTarget(address.targetId, address);
    this.targets.set(address.targetId, target);
    return target;
  }

  /** The target last opened for `targetId` (throws when none was). */
  target(targetId: string): InMemoryTarget {
    const target = this.targets.get(targetId);
    if (!target) throw new Error(`no connection to ${targetId} was opened`);
    return target;
  }
}
