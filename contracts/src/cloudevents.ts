/**
 * What another team's consumer needs besides the schemas: read one message of our streams as a
 * public lifecycle event (validated, upcast to today's version, internal events told apart), and
 * map it losslessly to and from CloudEvents 1.0 (JSON structured format), so CloudEvents tooling
 * (SDKs, routers, sinks) can take our events as they are.
 *
 * The mapping (docs in contracts/README.md):
 *   id <- id, source <- `urn:tunnelkey:<context>`, type <- `io.tunnelkey.<context>.<Type>.v<version>`,
 *   subject <- aggregateId, time <- occurredAt, datacontenttype application/json, data <- data,
 *   extensions: causationid, correlationid, and actorkind + actorid when an actor is recorded.
 */
import { findEventDefinition } from './catalog.js';
import type { Actor, EventEnvelope } from './envelope.js';
import { ContractViolation } from './errors.js';
import { upcastEvent } from './upcasting.js';

/** A CloudEvents 1.0 event in the JSON format (https://github.com/cloudevents/spec, json-format.md). */
export interface TunnelkeyCloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  causationid: string;
  correlationid: string;
  actorkind?: Actor['kind'];
  actorid?: string;
  data: unknown;
}

const typePattern = /^io\.tunnelkey\.([a-z]+)\.([A-Z][A-Za-z0-9]{0,63})\.v([1-9][0-9]{0,5})$/;

/** Our envelope as a CloudEvent. Throws ContractViolation for an event the catalog does not know. */
export function toCloudEvent(event: EventEnvelope): TunnelkeyCloudEvent {
  const definition = findEventDefinition(event.type, event.version);
  if (!definition) throw new ContractViolation(`unknown event ${event.type} v${event.version}`);
  return {
    specversion: '1.0',
    id: event.id,
    source: `urn:tunnelkey:${definition.context}`,
    type: `io.tunnelkey.${definition.context}.${event.type}.v${event.version}`,
    subject: event.aggregateId,
    time: event.occurredAt,
    datacontenttype: 'application/json',
    causationid: event.causationId,
    correlationid: event.correlationId,
    ...(event.actor ? { actorkind: event.actor.kind, actorid: event.actor.id } : {}),
    data: event.data,
  };
}

/** The envelope back from a CloudEvent made by toCloudEvent, validated against its contract. */
export function fromCloudEvent(cloudEvent: TunnelkeyCloudEvent): EventEnvelope {
  const match = typeof cloudEvent.type === 'string' ? typePattern.exec(cloudEvent.type) : null;
  if (cloudEvent.specversion !== '1.0' || !match) throw new ContractViolation('not a tunnelkey CloudEvent');
  const [, context, type, version] = match as unknown as [string, string, string, string];
  const definition = findEventDefinition(type, Number(version));
  if (!definition || definition.context !== context || cloudEvent.source !== `urn:tunnelkey:${context}`)
    throw new ContractViolation(`unknown event ${type} v${version}`);
  const actor =
    cloudEvent.actorkind !== undefined || cloudEvent.actorid !== undefined
      ? { actor: { kind: cloudEvent.actorkind, id: cloudEvent.actorid } }
      : {};
  return definition.parse({
    type,
    version: Number(version),
    id: cloudEvent.id,
    aggregateId: cloudEvent.subject,
    occurredAt: cloudEvent.time,
    causationId: cloudEvent.causationid,
    correlationId: cloudEvent.correlationid,
    ...actor,
    data: cloudEvent.data,
  });
}

/** What one message of a stream is to a consumer of the public contract. */
export type PublicEventReading =
  | { kind: 'public'; event: EventEnvelope }
  /** A valid event the platform keeps for itself (same subjects, no compatibility promise): skip it. */
  | { kind: 'internal'; type: string }
  /** Not a valid event of the catalog (unknown type or version, or a broken payload): log and skip it. */
  | { kind: 'invalid'; reason: string };

/**
 * Reads a message body (bytes or parsed JSON) as a consumer of the public contract should: parsed,
 * validated against its type and version, upcast to the version written today, and public or
 * internal said explicitly. Never throws for bad input.
 */
export function readPublicEvent(body: Uint8Array | unknown): PublicEventReading {
  let value: unknown = body;
  if (body instanceof Uint8Array) {
    try {
      value = JSON.parse(new TextDecoder().decode(body));
    } catch {
      return { kind: 'invalid', reason: 'not JSON' };
    }
  }
  try {
    const event = upcastEvent(value);
    if (findEventDefinition(event.type, event.version)?.public !== true) return { kind: 'internal', type: event.type };
    return { kind: 'public', event };
  } catch (error) {
    return { kind: 'invalid', reason: error instanceof Error ? error.message : String(error) };
  }
}
