import { publicEventDefinitions } from '../catalog.js';
import { aggregatesByContext, boundedContexts, streamName } from '../contexts.js';
import type { EventDefinition } from '../define-event.js';
import { eventHeaderNames } from '../envelope.js';
import { sampleValue } from '../sample-values.js';
import { toJsonSchema } from '../validation.js';

/**
 * The AsyncAPI 3.0 document of tunnelkey's public device-lifecycle events, generated from the
 * catalog so it cannot say anything the contracts do not. Pure: same catalog, same document.
 * One channel per public subject pattern (`<context>.<aggregate>.{<aggregate>Id}`), one message
 * per event type and version.
 */

export const asyncApiDocumentVersion = '1.0.0';

type Json = Record<string, unknown>;

/** `registry` + `device` -> `registryDevice`. */
function channelId(context: string, aggregate: string): string {
  return `${context}${aggregate.charAt(0).toUpperCase()}${aggregate.slice(1)}`;
}

/** `DeviceConnected` v2 -> `DeviceConnectedV2`. */
export function asyncApiMessageId(definition: Pick<EventDefinition, 'type' | 'version'>): string {
  return `${definition.type}V${definition.version}`;
}

function headersSchema(definition: EventDefinition): Json {
  return {
    type: 'object',
    required: [eventHeaderNames.messageId, eventHeaderNames.type, eventHeaderNames.version],
    properties: {
      [eventHeaderNames.messageId]: {
        type: 'string',
        maxLength: 256,
        description: 'JetStream dedup key, derived from the command id: a retried command never writes twice.',
      },
      [eventHeaderNames.type]: {
        type: 'string',
        const: definition.type,
        description: 'Event type (also in the body).',
      },
      [eventHeaderNames.version]: {
        type: 'string',
        const: String(definition.version),
        description: 'Event version (also in the body).',
      },
    },
  };
}

function message(definition: EventDefinition): Json {
  return {
    name: definition.type,
    title: `${definition.type} v${definition.version}`,
    summary: definition.summary,
    contentType: 'application/json',
    headers: headersSchema(definition),
    payload: toJsonSchema(definition.schema),
    tags: [{ name: definition.context }],
    examples: [
      {
        name: 'example',
        summary: `A valid ${definition.type} v${definition.version} (every optional field present; values are placeholders).`,
        headers: {
          [eventHeaderNames.messageId]: 'cmd-123e4567-e89b-12d3-a456-426614174000-0',
          [eventHeaderNames.type]: definition.type,
          [eventHeaderNames.version]: String(definition.version),
        },
        payload: sampleValue(definition.schema),
      },
    ],
  };
}

export function buildAsyncApiDocument(): Json {
  const definitions = [...publicEventDefinitions].sort(
    (a, b) => a.context.localeCompare(b.context) || a.type.localeCompare(b.type) || a.version - b.version,
  );
  const channels: Json = {};
  const operations: Json = {};
  const messages: Json = {};

  // Channels in the order contexts and aggregates are declared, so the document reads like the design.
  for (const context of boundedContexts) {
    for (const aggregate of aggregatesByContext[context] as readonly string[]) {
      const onChannel = definitions.filter((d) => d.context === context && d.aggregate === aggregate);
      if (onChannel.length === 0) continue;
      const id = channelId(context, aggregate);
      const parameter = `${aggregate}Id`;
      const channelMessages: Json = {};
      for (const definition of onChannel) {
        const messageId = asyncApiMessageId(definition);
        messages[messageId] = message(definition);
        channelMessages[messageId] = { $ref: `#/components/messages/${messageId}` };
      }
      channels[id] = {
        address: `${context}.${aggregate}.{${parameter}}`,
        title: `${context} ${aggregate}`,
        description:
          `Events of one ${aggregate} aggregate instance in the ${streamName(context)} stream. ` +
          'Subscribe with a JetStream consumer filtered on this subject (or the wildcard form). ' +
          'The service also appends internal events to the same subjects (not listed here, no compatibility promise): ' +
          'skip every type you do not know, by its Tk-Event-Type header or readPublicEvent in @tunnelkey/contracts. ' +
          'Under a namespace the subject and stream are prefixed (`<ns>.` and `<NS>_`).',
        parameters: { [parameter]: { description: `Id of the ${aggregate} (subject-safe: ^[A-Za-z0-9_-]{1,128}$).` } },
        messages: channelMessages,
      };
      operations[`${id}Events`] = {
        action: 'send',
        title: `Publish ${context} ${aggregate} events`,
        summary: `The ${context} service appends ${aggregate} events; other teams subscribe.`,
        channel: { $ref: `#/channels/${id}` },
        messages: onChannel.map((d) => ({ $ref: `#/channels/${id}/messages/${asyncApiMessageId(d)}` })),
      };
    }
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'tunnelkey device lifecycle events',
      version: asyncApiDocumentVersion,
      description:
        'Public, versioned events of the tunnelkey platform. Generated from contracts/ (npm run contracts:asyncapi); do not edit. ' +
        'Every event travels in the same envelope (type, version, id, aggregateId, occurredAt, causationId, correlationId, actor?, data). ' +
        'Old versions stay listed while they can be found on a stream; consumers upcast them (upcastEvent in @tunnelkey/contracts). ' +
        'Each event maps losslessly to a CloudEvents 1.0 event (toCloudEvent / fromCloudEvent in @tunnelkey/contracts): ' +
        'type io.tunnelkey.<context>.<Type>.v<version>, source urn:tunnelkey:<context>, subject = aggregateId, time = occurredAt, ' +
        'extensions causationid, correlationid, actorkind, actorid.',
    },
    defaultContentType: 'application/json',
    servers: {
      nats: {
        host: 'localhost:4222',
        protocol: 'nats',
        description: 'NATS with JetStream: one stream per bounded context, one subject per aggregate instance.',
      },
    },
    channels,
    operations,
    components: { messages },
  };
}
