/**
 * What onboarding knows of the platform, from events only (a service never imports another):
 * registry policies, batches and devices; CA authorities, certificates and CRLs; and its own
 * targets and device onboardings. In-process, rebuilt from the log at start, then followed by one
 * durable subscription per context; each context keeps its own checkpoint.
 */
import {
  AuthorityCreated,
  BatchCreated,
  CertificateIssued,
  CertificateRevoked,
  CrlPublished,
  DeviceDeprovisioned,
  DeviceIdentityImported,
  DeviceOnboarded,
  DeviceRevoked,
  OwnershipTransferCompleted,
  ServerPolicyDefined,
  TargetCrlUpdated,
  TargetRegistered,
  TargetTrustAnchorInstalled,
  TelemetryReceived,
  type BoundedContext,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { Projection, rebuildProjection, type EventStore, type ProjectionDefinition, type Subscription } from '@tunnelkey/eventstore';
import type { TopicRightSpec } from '../target-port/topic-plan.js';

type D<E> = DataOf<E>;

export interface DeviceFacts {
  deviceId: string;
  batchId?: string;
  certificate?: { authorityId: string; serialNumber: string; chainPem: string[] };
  revoked: boolean;
  /** The revocation that revoked its certificate (CertificateRevoked), for DeviceDeprovisioned. */
  revocationId?: string;
  /**
   * The first CRL number of its issuer that lists the revoked certificate: the first CrlPublished
   * of that authority after its CertificateRevoked in the CA's log (the CA builds a CRL from every
   * revocation recorded before it). Unset while no CRL lists it yet: a target cannot refuse its
   * handshakes then, so dropping its session would only let it reconnect.
   */
  listedOnCrl?: number;
  /** targetId -> onboarding on it (kept after deprovisioning, so its disconnection is still recognised). */
  onboardedTo: Map<string, D<typeof DeviceOnboarded>>;
  /** Targets the device was deprovisioned from since its last onboarding there. */
  deprovisionedFrom: Set<string>;
  telemetry: Map<string, { messagesTotal: number; bytesTotal: number; firstMessageAt: string }>;
}

export class OnboardingFactsState {
  readonly policies = new Map<string, { policyId: string; targetIds: string[]; topicRights: TopicRightSpec[] }>();
  readonly batches = new Map<string, D<typeof BatchCreated>>();
  readonly devices = new Map<string, DeviceFacts>();
  readonly devicesByBatch = new Map<string, Set<string>>();
  /** authorityId -> issuing chain (issuing CA first) and the fingerprint of the issuing CA. */
  readonly chains = new Map<string, { chainPem: string[]; fingerprintSha256: string }>();
  readonly authorities = new Map<string, D<typeof AuthorityCreated>>();
  readonly crls = new Map<string, D<typeof CrlPublished>>();
  readonly targets = new Map<string, { registration: D<typeof TargetRegistered>; anchors: Map<string, string>; crls: Map<string, number> }>();
  /** authorityId -> devices whose certificate was revoked since that authority's last CrlPublished. */
  readonly #awaitingCrl = new Map<string, Set<string>>();

  device(deviceId: string): DeviceFacts {
    let device = this.devices.get(deviceId);
    if (!device) this.devices.set(deviceId, (device = { deviceId, revoked: false, onboardedTo: new Map(), deprovisionedFrom: new Set(), telemetry: new Map() }));
    return device;
  }

  apply(event: EventEnvelope): void {
    switch (event.type) {
      case ServerPolicyDefined.type: {
        const data = event.data as D<typeof ServerPolicyDefined>;
        this.policies.set(data.policyId, { policyId: data.policyId, targetIds: [...data.targetIds], topicRights: data.topicRights.map((r) => ({ ...r })) });
        break;
      }
      case BatchCreated.type: {
        const data = event.data as D<typeof BatchCreated>;
        this.batches.set(data.batchId, data);
        break;
      }
      case DeviceIdentityImported.type: {
        const data = event.data as D<typeof DeviceIdentityImported>;
        this.#moveToBatch(this.device(data.deviceId), data.batchId);
        break;
      }
      case OwnershipTransferCompleted.type: {
        const data = event.data as D<typeof OwnershipTransferCompleted>;
        if (data.batchId) this.#moveToBatch(this.device(data.deviceId), data.batchId);
        break;
      }
      case DeviceRevoked.type:
        this.device((event.data as D<typeof DeviceRevoked>).deviceId).revoked = true;
        break;
      case AuthorityCreated.type: {
        const data = event.data as D<typeof AuthorityCreated>;
        this.authorities.set(data.authorityId, data);
        break;
      }
      case CertificateIssued.type: {
        const data = event.data as D<typeof CertificateIssued>;
        this.device(data.deviceId).certificate = { authorityId: data.authorityId, serialNumber: data.serialNumber, chainPem: data.chainPem };
        if (!this.chains.has(data.authorityId)) this.chains.set(data.authorityId, { chainPem: data.chainPem, fingerprintSha256: '' });
        break;
      }
      case CertificateRevoked.type: {
        const data = event.data as D<typeof CertificateRevoked>;
        const device = this.device(data.deviceId);
        if (device.certificate?.serialNumber === data.serialNumber) {
          device.revoked = true;
          device.revocationId = data.revocationId;
          if (!this.#awaitingCrl.has(data.authorityId)) this.#awaitingCrl.set(data.authorityId, new Set());
          this.#awaitingCrl.get(data.authorityId)!.add(data.deviceId);
        }
        break;
      }
      case CrlPublished.type: {
        const data = event.data as D<typeof CrlPublished>;
        const known = this.crls.get(data.authorityId);
        if (!known || known.crlNumber < data.crlNumber) this.crls.set(data.authorityId, data);
        for (const deviceId of this.#awaitingCrl.get(data.authorityId) ?? []) this.device(deviceId).listedOnCrl ??= data.crlNumber;
        this.#awaitingCrl.delete(data.authorityId);
        break;
      }
      case TargetRegistered.type: {
        const data = event.data as D<typeof TargetRegistered>;
        this.targets.set(data.targetId, { registration: data, anchors: new Map(), crls: new Map() });
        break;
      }
      case TargetTrustAnchorInstalled.type: {
        const data = event.data as D<typeof TargetTrustAnchorInstalled>;
        this.targets.get(data.targetId)?.anchors.set(data.authorityId, data.fingerprintSha256);
        break;
      }
      case TargetCrlUpdated.type: {
        const data = event.data as D<typeof TargetCrlUpdated>;
        this.targets.get(data.targetId)?.crls.set(data.authorityId, data.crlNumber);
        break;
      }
      case DeviceOnboarded.type: {
        const data = event.data as D<typeof DeviceOnboarded>;
        const device = this.device(data.deviceId);
        device.onboardedTo.set(data.targetId, data);
        device.deprovisionedFrom.delete(data.targetId);
        break;
      }
      case DeviceDeprovisioned.type: {
        const data = event.data as D<typeof DeviceDeprovisioned>;
        this.device(data.deviceId).deprovisionedFrom.add(data.targetId);
        break;
      }
      case TelemetryReceived.type: {
        const data = event.data as D<typeof TelemetryReceived>;
        this.device(data.deviceId).telemetry.set(data.targetId, { messagesTotal: data.messagesTotal, bytesTotal: data.bytesTotal, firstMessageAt: data.firstMessageAt });
        break;
      }
      default:
        break;
    }
  }

  #moveToBatch(device: DeviceFacts, batchId: string): void {
    if (device.batchId) this.devicesByBatch.get(device.batchId)?.delete(device.deviceId);
    device.batchId = batchId;
    let members = this.devicesByBatch.get(batchId);
    if (!members) this.devicesByBatch.set(batchId, (members = new Set()));
    members.add(device.deviceId);
  }
}

const contexts: readonly BoundedContext[] = ['registry', 'ca', 'onboarding'];

export class OnboardingFacts {
  readonly state = new OnboardingFactsState();
  readonly #subscriptions: Subscription[] = [];
  #ready = false;

  private constructor() {}

  /**
   * Replays the three contexts, then follows each from its checkpoint (EventStore.follow: the facts
   * live in memory and are rebuilt at every start, so no durable position is kept).
   */
  static async start(store: EventStore): Promise<OnboardingFacts> {
    const facts = new OnboardingFacts();
    for (const context of contexts) {
      const definition: ProjectionDefinition<OnboardingFactsState> = {
        name: `onboarding-facts-${context}`,
        context,
        initialState: () => facts.state,
        evolve: (state, recorded) => {
          state.apply(recorded.event);
          return state;
        },
      };
      const projection: Projection<OnboardingFactsState> = await rebuildProjection(store, definition);
      const subscription = await store.follow(context, (recorded) => void projection.apply(recorded), { fromSequence: projection.checkpoint + 1 });
      facts.#subscriptions.push(subscription);
    }
    await facts.syncNow();
    facts.#ready = true;
    return facts;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Waits until everything in the three logs now is applied (e.g. right after certification). */
  async syncNow(): Promise<void> {
    await Promise.all(this.#subscriptions.map((s) => s.caughtUp()));
  }

  async stop(): Promise<void> {
    this.#ready = false;
    await Promise.all(this.#subscriptions.splice(0).map((s) => s.stop()));
  }
}
