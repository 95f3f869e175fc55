import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define-event.js';
import { AggregateId } from '../envelope.js';

export const TopicRight = Type.Object(
  {
    /** MQTT topic filter; `{deviceId}` is replaced by the device's id. */
    topic: Type.String({ minLength: 1, maxLength: 256 }),
    access: Type.Union([Type.Literal('publish'), Type.Literal('subscribe'), Type.Literal('publish-subscribe')]),
  },
  { additionalProperties: false },
);

export const ServerPolicyDefined = defineEvent({
  type: 'ServerPolicyDefined',
  version: 1,
  context: 'registry',
  aggregate: 'policy',
  summary: 'An operator defined a server policy: the targets a batch is onboarded to, the rights its devices get, and their certificate lifetime.',
  public: true,
  data: Type.Object(
    {
      policyId: AggregateId,
      name: Type.String({ minLength: 1, maxLength: 200 }),
      /** Onboarding target ids (e.g. a Mosquitto broker) the devices are registered with. */
      targetIds: Type.Array(AggregateId, { maxItems: 16 }),
      topicRights: Type.Array(TopicRight, { minItems: 1, maxItems: 32 }),
      certificateLifetimeDays: Type.Integer({ minimum: 1, maximum: 3650 }),
    },
    { additionalProperties: false },
  ),
});
