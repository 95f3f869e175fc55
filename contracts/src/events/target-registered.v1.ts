import { defineEvent, type EventOf } from '../define-event.js';
import { AggregateId } from '../envelope.js';
import { defaultOwnerId } from '../owners.js';
import { Struct, Text } from '../primitives.js';
import { Host, Port, TargetKind, TargetRegistered } from './onboarding.events.js';

/** TargetRegistered as first published, before owners were first-class. Read from old streams, never written. */
export const TargetRegisteredV1 = defineEvent({
  type: 'TargetRegistered',
  version: 1,
  context: 'onboarding',
  aggregate: 'target',
  summary:
    'An operator registered an onboarding target (before owners). Superseded by v2; stored v1 events are upcast.',
  public: true,
  data: Struct({
    targetId: AggregateId,
    kind: TargetKind,
    name: Text(200),
    host: Host,
    tlsPort: Port,
    credentialsRef: AggregateId,
  }),
});

/** v1 -> v2: a target registered before owners existed belongs to the documented default owner. */
export function upcastTargetRegisteredV1(event: EventOf<typeof TargetRegisteredV1>): EventOf<typeof TargetRegistered> {
  return { ...event, version: 2, data: { ...event.data, ownerId: defaultOwnerId } };
}
