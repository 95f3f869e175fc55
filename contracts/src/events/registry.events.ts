import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define-event.js';

// Sample; the full device-lifecycle catalogue is filled in alongside this file.
export const ServerPolicyDefined = defineEvent({
  type: 'ServerPolicyDefined',
  version: 1,
  context: 'registry',
  aggregate: 'policy',
  summary: 'An operator defined a server policy: which targets a batch is onboarded to, with which rights.',
  public: true,
  data: Type.Object(
    {
      policyId: Type.String(),
      name: Type.String({ minLength: 1, maxLength: 200 }),
    },
    { additionalProperties: false },
  ),
});
