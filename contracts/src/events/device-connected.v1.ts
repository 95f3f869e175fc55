import { defineEvent, type EventOf } from '../define-event.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import { Struct } from '../primitives.js';
import { ClientId, DeviceConnected } from './onboarding.events.js';

/** DeviceConnected as first published: without the TLS details. Read from old streams, never written. */
export const DeviceConnectedV1 = defineEvent({
  type: 'DeviceConnected',
  version: 1,
  context: 'onboarding',
  aggregate: 'device',
  summary: 'A device connected to a target with mutual TLS. Superseded by v2; stored v1 events are upcast.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    targetId: AggregateId,
    clientId: ClientId,
    connectedAt: IsoTimestamp,
  }),
});

/**
 * v1 -> v2: the monitor did not read TLS details then, so they are truly unknown; `unknown` says
 * so rather than guessing the broker's default.
 */
export function upcastDeviceConnectedV1(event: EventOf<typeof DeviceConnectedV1>): EventOf<typeof DeviceConnected> {
  return { ...event, version: 2, data: { ...event.data, tlsProtocol: 'unknown', cipher: 'unknown' } };
}
