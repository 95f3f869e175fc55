/**
 * Onboarding's own log as a view: the registered targets and the trust each enforces, and per
 * device the targets it is onboarded to, deprovisioned from, and its telemetry totals there.
 */
import { InMemoryView } from '@tunnelkey/messaging';
import {
  DeviceConnected,
  DeviceDeprovisioned,
  DeviceDisconnected,
  DeviceOnboarded,
  TargetCrlUpdated,
  TargetRegistered,
  TargetTrustAnchorInstalled,
  TelemetryReceived,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';

type D<E> = DataOf<E>;

export interface TargetTrustState {
  registration: D<typeof TargetRegistered>;
  /** authorityId -> fingerprint of the installed anchor (the target's own CA). */
  anchors: Map<string, string>;
  /** authorityId -> the installed anchor's certificate, as recorded. */
  anchorCertificates: Map<string, string>;
  /** Policies with devices onboarded to the target: their topic rights are what the target grants. */
  policies: Set<string>;
  /** authorityId -> the CRL number the target enforces. */
  crls: Map<string, number>;
}

export interface TelemetryTotals {
  messagesTotal: number;
  bytesTotal: number;
  firstMessageAt: string;
}

export interface DeviceOnTargets {
  /** targetId -> onboarding on it (kept after deprovisioning, so its disconnection is still recognised). */
  onboardedTo: Map<string, D<typeof DeviceOnboarded>>;
  /** Targets the device was deprovisioned from since its last onboarding there. */
  deprovisionedFrom: Set<string>;
  /** targetId -> target certificates replaced by a later onboarding there (their target's CRL lists them). */
  replaced: Map<string, { serialNumber: string; replacedAt: string }[]>;
  /** Targets the device has connected to since its last onboarding there (its connection parameters arrived). */
  connectedTo: Set<string>;
  /** Targets the log says the device is connected to now (its last DeviceConnected not followed by a DeviceDisconnected). */
  online: Set<string>;
  telemetry: Map<string, TelemetryTotals>;
}

export class TargetsState {
  readonly targets = new Map<string, TargetTrustState>();
  readonly devices = new Map<string, DeviceOnTargets>();

  /** What a view checkpoint stores of this state (Maps and Sets, all of it). */
  toCheckpoint(): { targets: TargetsState['targets']; devices: TargetsState['devices'] } {
    return { targets: this.targets, devices: this.devices };
  }

  /** The state again from what `toCheckpoint` stored. */
  static fromCheckpoint(stored: unknown): TargetsState {
    const data = stored as { targets: TargetsState['targets']; devices: TargetsState['devices'] };
    const state = new TargetsState();
    for (const [k, v] of data.targets) state.targets.set(k, v);
    for (const [k, v] of data.devices) state.devices.set(k, v);
    return state;
  }

  device(deviceId: string): DeviceOnTargets {
    let device = this.devices.get(deviceId);
    if (!device)
      this.devices.set(
        deviceId,
        (device = {
          onboardedTo: new Map(),
          deprovisionedFrom: new Set(),
          replaced: new Map(),
          connectedTo: new Set(),
          online: new Set(),
          telemetry: new Map(),
        }),
      );
    return device;
  }

  apply(event: EventEnvelope): void {
    switch (event.type) {
      case TargetRegistered.type: {
        const data = event.data as D<typeof TargetRegistered>;
        this.targets.set(data.targetId, {
          registration: data,
          anchors: new Map(),
          anchorCertificates: new Map(),
          policies: new Set(),
          crls: new Map(),
        });
        break;
      }
      case TargetTrustAnchorInstalled.type: {
        const data = event.data as D<typeof TargetTrustAnchorInstalled>;
        this.noteAnchor(data.targetId, data.authorityId, data.fingerprintSha256, data.certificatePem);
        break;
      }
      case TargetCrlUpdated.type: {
        const data = event.data as D<typeof TargetCrlUpdated>;
        this.targets.get(data.targetId)?.crls.set(data.authorityId, data.crlNumber);
        break;
      }
      case DeviceOnboarded.type: {
        this.noteOnboarded(event.data as D<typeof DeviceOnboarded>, event.occurredAt);
        break;
      }
      case DeviceConnected.type: {
        const data = event.data as D<typeof DeviceConnected>;
        this.device(data.deviceId).connectedTo.add(data.targetId);
        this.device(data.deviceId).online.add(data.targetId);
        break;
      }
      case DeviceDisconnected.type: {
        const data = event.data as D<typeof DeviceDisconnected>;
        this.device(data.deviceId).online.delete(data.targetId);
        break;
      }
      case DeviceDeprovisioned.type: {
        const data = event.data as D<typeof DeviceDeprovisioned>;
        this.device(data.deviceId).deprovisionedFrom.add(data.targetId);
        break;
      }
      case TelemetryReceived.type: {
        const data = event.data as D<typeof TelemetryReceived>;
        const totals = {
          messagesTotal: data.messagesTotal,
          bytesTotal: data.bytesTotal,
          firstMessageAt: data.firstMessageAt,
        };
        this.device(data.deviceId).telemetry.set(data.targetId, totals);
        break;
      }
      default:
        break;
    }
  }

  noteOnboarded(data: D<typeof DeviceOnboarded>, at: string): void {
    const device = this.device(data.deviceId);
    const previous = device.onboardedTo.get(data.targetId)?.certificate;
    if (previous?.serialNumber !== data.certificate?.serialNumber) device.connectedTo.delete(data.targetId);
    if (previous && previous.serialNumber !== data.certificate?.serialNumber) {
      const replaced = device.replaced.get(data.targetId) ?? [];
      if (!replaced.some((r) => r.serialNumber === previous.serialNumber))
        device.replaced.set(data.targetId, [...replaced, { serialNumber: previous.serialNumber, replacedAt: at }]);
    }
    device.onboardedTo.set(data.targetId, data);
    device.deprovisionedFrom.delete(data.targetId);
    this.targets.get(data.targetId)?.policies.add(data.policyId);
  }

  noteAnchor(targetId: string, authorityId: string, fingerprintSha256: string, certificatePem?: string): void {
    const target = this.targets.get(targetId);
    target?.anchors.set(authorityId, fingerprintSha256);
    if (certificatePem) target?.anchorCertificates.set(authorityId, certificatePem);
    else target?.anchorCertificates.delete(authorityId);
  }
}

/**
 * Besides the log, the view takes what this instance has just done (`note*`): the next step must
 * see it before the event comes back through the feed (a device connecting milliseconds after its
 * onboarding, a revocation reading the CRL it has just installed). The feed applies it again.
 */
export class TargetsView extends InMemoryView<TargetsState> {
  static readonly viewName = 'onboarding-targets';

  static async start(store: EventStore, logger?: Logger): Promise<TargetsView> {
    const live = await LiveView.start(
      store,
      {
        name: TargetsView.viewName,
        sources: [{ context: 'onboarding' }],
        initialState: () => new TargetsState(),
        evolve: (state, recorded) => (state.apply(recorded.event), state),
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the
        // version when the state or apply changes.
        checkpoint: {
          owner: 'onboarding',
          // 3: target certificates (anchors' certificates, policies per target, replaced serials, connections).
          // 4: who is connected now (online).
          version: 4,
          toCheckpoint: (state) => state.toCheckpoint(),
          fromCheckpoint: (stored) => TargetsState.fromCheckpoint(stored),
        },
      },
      logger ? { logger } : {},
    );
    return new TargetsView(live);
  }

  target(targetId: string): TargetTrustState | undefined {
    return this.state.targets.get(targetId);
  }

  registrations(): D<typeof TargetRegistered>[] {
    return [...this.state.targets.values()].map((target) => target.registration);
  }

  /** The certificate recorded for the target's anchor `authorityId`, if one was. */
  anchorCertificate(targetId: string, authorityId: string): string | undefined {
    return this.state.targets.get(targetId)?.anchorCertificates.get(authorityId);
  }

  /** Devices onboarded to the target (deprovisioned ones included): whom its CRL may have to list. */
  onboardedTo(targetId: string): D<typeof DeviceOnboarded>[] {
    const onboarded: D<typeof DeviceOnboarded>[] = [];
    for (const device of this.state.devices.values()) {
      const onboarding = device.onboardedTo.get(targetId);
      if (onboarding) onboarded.push(onboarding);
    }
    return onboarded;
  }

  onboarding(deviceId: string, targetId: string): D<typeof DeviceOnboarded> | undefined {
    return this.state.devices.get(deviceId)?.onboardedTo.get(targetId);
  }

  /**
   * Devices onboarded to `targetId` whose connection there, as the log has it, differs from what
   * the target reports (`present`: the client ids connected to it now): connected there but not
   * on record (never for a device deprovisioned there), or on record but no longer there.
   */
  connectionDrift(
    targetId: string,
    present: ReadonlySet<string>,
  ): { deviceId: string; clientId: string; connected: boolean }[] {
    const drift: { deviceId: string; clientId: string; connected: boolean }[] = [];
    for (const [deviceId, device] of this.state.devices) {
      const onboarding = device.onboardedTo.get(targetId);
      if (!onboarding) continue;
      const there = present.has(onboarding.clientId);
      const online = device.online.has(targetId);
      if (there && !online && !device.deprovisionedFrom.has(targetId))
        drift.push({ deviceId, clientId: onboarding.clientId, connected: true });
      else if (!there && online) drift.push({ deviceId, clientId: onboarding.clientId, connected: false });
    }
    return drift;
  }

  /** Onboardings (with a target certificate) the device has not connected to since: its parameters may be lost. */
  awaitingConnection(): D<typeof DeviceOnboarded>[] {
    const awaiting: D<typeof DeviceOnboarded>[] = [];
    for (const device of this.state.devices.values())
      for (const [targetId, onboarding] of device.onboardedTo)
        if (onboarding.certificate && !device.connectedTo.has(targetId) && !device.deprovisionedFrom.has(targetId))
          awaiting.push(onboarding);
    return awaiting;
  }

  /** Whether the view holds anything of the device (an onboarding, a connection, a deprovisioning on any target). */
  knows(deviceId: string): boolean {
    return this.state.devices.has(deviceId);
  }

  /** Targets the device is onboarded to and not deprovisioned from. */
  activeTargets(deviceId: string): string[] {
    const device = this.state.devices.get(deviceId);
    if (!device) return [];
    return [...device.onboardedTo.keys()].filter((targetId) => !device.deprovisionedFrom.has(targetId));
  }

  telemetry(deviceId: string, targetId: string): TelemetryTotals | undefined {
    return this.state.devices.get(deviceId)?.telemetry.get(targetId);
  }

  noteOnboarded(data: D<typeof DeviceOnboarded>, at: Date): void {
    this.state.noteOnboarded(data, at.toISOString());
  }

  /** Target certificates of the device on the target that a later onboarding replaced. */
  replacedCertificates(deviceId: string, targetId: string): readonly { serialNumber: string; replacedAt: string }[] {
    return this.state.devices.get(deviceId)?.replaced.get(targetId) ?? [];
  }

  noteDeprovisioned(deviceId: string, targetId: string): void {
    this.state.device(deviceId).deprovisionedFrom.add(targetId);
  }

  noteAnchorInstalled(targetId: string, authorityId: string, fingerprintSha256: string, certificatePem: string): void {
    this.state.noteAnchor(targetId, authorityId, fingerprintSha256, certificatePem);
  }

  noteCrlEnforced(targetId: string, authorityId: string, crlNumber: number): void {
    this.state.targets.get(targetId)?.crls.set(authorityId, crlNumber);
  }
}
