import { Type } from '@sinclair/typebox';
import { AggregateId } from '../envelope.js';
import { Struct } from '../primitives.js';

/** Which devices a bulk command acts on: one device, a list, or a whole batch. */
export const DeviceScope = Type.Union([
  Struct({ kind: Type.Literal('device'), deviceId: AggregateId }),
  Struct({ kind: Type.Literal('devices'), deviceIds: Type.Array(AggregateId, { minItems: 1, maxItems: 1000 }) }),
  Struct({ kind: Type.Literal('batch'), batchId: AggregateId }),
]);

/** How many devices a bulk command set in motion; outcomes follow as events. */
export const BulkResult = Struct({ devices: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) });
