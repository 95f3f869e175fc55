import { ownerIdOf } from '@tunnelkey/contracts';
import type { RecordedEvent } from '@tunnelkey/eventstore';
import type { JsonValue, StoredProjection, Write } from '@tunnelkey/projection-store';
import { json } from './fleet.view.js';

/**
 * Named anew when its documents change shape (v2: policies and targets carry their owner), so a
 * MongoDB store that kept the old one rebuilds it from the log instead of serving documents without.
 */
export const catalogProjectionName = 'catalog-v2';
export const policiesCollection = 'policies';
export const targetsCollection = 'targets';
/** A target's trust anchor and CRL per authority (`<targetId>/<authorityId>`): documents hold top-level fields only. */
export const targetAuthoritiesCollection = 'targetAuthorities';

type Data = Record<string, unknown>;

/**
 * Server policies and onboarding targets: what the console offers in its drop-downs. A target's
 * onboarded and connected devices are counted from the fleet's links at query time.
 */
export const catalogProjection: StoredProjection = {
  name: catalogProjectionName,
  collections: {
    policies: { indexes: ['name', ['ownerId', 'name']] },
    targets: { indexes: ['name', ['ownerId', 'name']] },
    targetAuthorities: { indexes: ['targetId'] },
  },
  sources: [
    { context: 'registry', aggregate: 'policy' },
    { context: 'onboarding', aggregate: 'target' },
  ],
  evolve({ event }: RecordedEvent): Write[] {
    const data = event.data as Data;
    const targetId = data.targetId as string;
    const authority = () => ({
      type: 'upsert' as const,
      collection: targetAuthoritiesCollection,
      id: `${targetId}/${data.authorityId as string}`,
      set: { targetId, authorityId: data.authorityId as string },
    });
    switch (event.type) {
      case 'ServerPolicyDefined':
        return [
          {
            type: 'upsert',
            collection: policiesCollection,
            id: data.policyId as string,
            set: json({
              policyId: data.policyId,
              name: data.name,
              targetIds: data.targetIds,
              topicRights: data.topicRights,
              certificateLifetimeDays: data.certificateLifetimeDays,
              // v1 (before owners): the default owner, as the contract's upcaster says.
              ownerId: ownerIdOf(data),
              definedAt: event.occurredAt,
            }) as Record<string, JsonValue>,
          },
        ];
      case 'TargetRegistered':
        return [
          {
            type: 'upsert',
            collection: targetsCollection,
            id: targetId,
            set: json({
              targetId,
              kind: data.kind,
              name: data.name,
              host: data.host,
              tlsPort: data.tlsPort,
              ownerId: ownerIdOf(data),
              registeredAt: event.occurredAt,
            }) as Record<string, JsonValue>,
          },
        ];
      case 'TargetTrustAnchorInstalled': {
        const write = authority();
        return [
          {
            ...write,
            set: {
              ...write.set,
              trustAnchor: { fingerprintSha256: data.fingerprintSha256 as string, at: event.occurredAt },
            },
          },
        ];
      }
      case 'TargetCrlUpdated': {
        const write = authority();
        return [
          { ...write, set: { ...write.set, crl: { crlNumber: data.crlNumber as number, at: event.occurredAt } } },
        ];
      }
      default:
        return [];
    }
  },
};
