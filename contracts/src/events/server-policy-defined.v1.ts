import { Type } from '@sinclair/typebox';
import { defineEvent, type EventOf } from '../define-event.js';
import { AggregateId } from '../envelope.js';
import { defaultOwnerId } from '../owners.js';
import { ServerPolicyDefined, TopicRight } from './registry.events.js';

/**
 * ServerPolicyDefined as first published, before owners were first-class. Read from old streams,
 * never written. libs/eventstore's shared suite still appends it: its shape stays exactly as it was.
 */
export const ServerPolicyDefinedV1 = defineEvent({
  type: 'ServerPolicyDefined',
  version: 1,
  context: 'registry',
  aggregate: 'policy',
  summary: 'A server policy was defined (before owners). Superseded by v2; stored v1 events are upcast.',
  public: true,
  data: Type.Object(
    {
      policyId: AggregateId,
      name: Type.String({ minLength: 1, maxLength: 200 }),
      targetIds: Type.Array(AggregateId, { maxItems: 16 }),
      topicRights: Type.Array(TopicRight, { minItems: 1, maxItems: 32 }),
      certificateLifetimeDays: Type.Integer({ minimum: 1, maximum: 3650 }),
    },
    { additionalProperties: false },
  ),
});

/** v1 -> v2: a policy defined before owners existed belongs to the documented default owner. */
export function upcastServerPolicyDefinedV1(
  event: EventOf<typeof ServerPolicyDefinedV1>,
): EventOf<typeof ServerPolicyDefined> {
  return { ...event, version: 2, data: { ...event.data, ownerId: defaultOwnerId } };
}
