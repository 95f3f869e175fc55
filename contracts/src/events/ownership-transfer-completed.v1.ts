import { Type } from '@sinclair/typebox';
import { defineEvent, type EventOf } from '../define-event.js';
import { AggregateId } from '../envelope.js';
import { Struct } from '../primitives.js';
import { OwnershipTransferCompleted } from './registry.events.js';

/**
 * OwnershipTransferCompleted as first published, before custody records. Read from old streams,
 * never written (no service wrote it before v2: the contract was published ahead of the slice).
 */
export const OwnershipTransferCompletedV1 = defineEvent({
  type: 'OwnershipTransferCompleted',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary:
    'A device now belongs to its new owner; keys of earlier owner epochs are no longer accepted. Superseded by v2; stored v1 events are upcast.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    transferId: AggregateId,
    ownerId: AggregateId,
    ownerEpoch: Type.Integer({ minimum: 1, maximum: 65535 }),
    batchId: Type.Optional(AggregateId),
  }),
});

/** v1 -> v2: the same facts; the old owner and the custody record stay absent (v2 allows it for them only). */
export function upcastOwnershipTransferCompletedV1(
  event: EventOf<typeof OwnershipTransferCompletedV1>,
): EventOf<typeof OwnershipTransferCompleted> {
  return { ...event, version: 2 };
}
