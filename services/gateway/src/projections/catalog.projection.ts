import type { GatewayProjection } from '../read-model/projection.js';

export const policiesCollection = 'policies';
export const targetsCollection = 'targets';

/** Server policies and onboarding targets: what the console offers in its drop-downs. */
export const catalogProjection: GatewayProjection = {
  name: 'catalog',
  contexts: ['registry', 'onboarding'],
  collections: [policiesCollection, targetsCollection],
  project(event) {
    const data = event.data as Record<string, unknown>;
    const targetId = data.targetId as string;
    switch (event.type) {
      case 'ServerPolicyDefined':
        return [
          {
            collection: policiesCollection,
            id: data.policyId as string,
            set: { policyId: data.policyId, name: data.name, targetIds: data.targetIds, topicRights: data.topicRights, certificateLifetimeDays: data.certificateLifetimeDays, definedAt: event.occurredAt },
          },
        ];
      case 'TargetRegistered':
        return [
          {
            collection: targetsCollection,
            id: targetId,
            set: { targetId, kind: data.kind, name: data.name, host: data.host, tlsPort: data.tlsPort, registeredAt: event.occurredAt },
            inc: { onboarded: 0, connected: 0 },
          },
        ];
      case 'TargetTrustAnchorInstalled':
        return [{ collection: targetsCollection, id: targetId, set: { [`trustAnchors.${data.authorityId as string}`]: { fingerprintSha256: data.fingerprintSha256, at: event.occurredAt } } }];
      case 'TargetCrlUpdated':
        return [{ collection: targetsCollection, id: targetId, set: { [`crl.${data.authorityId as string}`]: { crlNumber: data.crlNumber, at: event.occurredAt } } }];
      case 'DeviceOnboarded':
        return [{ collection: targetsCollection, id: targetId, inc: { onboarded: 1 } }];
      case 'DeviceDeprovisioned':
        return [{ collection: targetsCollection, id: targetId, inc: { onboarded: -1 } }];
      case 'DeviceConnected':
        return [{ collection: targetsCollection, id: targetId, inc: { connected: 1 } }];
      case 'DeviceDisconnected':
        return [{ collection: targetsCollection, id: targetId, inc: { connected: -1 } }];
      default:
        return [];
    }
  },
};
