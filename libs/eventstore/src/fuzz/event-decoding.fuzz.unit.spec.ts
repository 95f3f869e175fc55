// Fuzzing of what a consumer reads from a stream (decodeEvent): the bus is not trusted, so any
// bytes decode to a valid event or to a refusal, never a throw, and a refusal's reason never
// echoes the values it was given (it may name a JSON path, property names included). `npm run fuzz` runs the same properties much longer (FUZZ_RUNS).
import fc from 'fast-check';
import { eventDefinitions } from '@tunnelkey/contracts';
import { fuzz } from '@tunnelkey/testing';
import { decodeEvent } from '../codec.js';

const marker = 'QUIETSECRET';
const encoder = new TextEncoder();

/** JSON values whose strings carry the marker, where a careless error message would quote them. */
const markedValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string().map((s) => `${s}${marker}${s}`),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const envelopeLike = fc
  .tuple(
    fc.constantFrom(...eventDefinitions),
    markedValue,
    fc.dictionary(fc.string({ maxLength: 10 }), markedValue, { maxKeys: 5 }),
  )
  .map(([definition, data, extra]) => ({
    type: definition.type,
    version: definition.version,
    id: '0b9d4e0c-8d3e-4c49-9b4a-3f1f0a6e2b1c',
    aggregateId: 'a-1',
    occurredAt: '2026-12-06T00:00:00.000Z',
    causationId: 'c-1',
    correlationId: 'c-1',
    data,
    ...extra,
  }));

describe('fuzzing event decoding', () => {
  it('any bytes, JSON or envelope-shaped value decode to an event or a refusal, never a throw or an echo', async () => {
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      markedValue.map((v) => encoder.encode(JSON.stringify(v))),
      envelopeLike.map((v) => encoder.encode(JSON.stringify(v))),
    );
    await fuzz(
      'event decoding: arbitrary input',
      fc.property(input, (bytes) => {
        const decoded = decodeEvent(bytes);
        if (!decoded.ok) {
          expect(decoded.reason).not.toContain(marker);
          expect(decoded.type).not.toContain(marker);
        }
      }),
    );
  });
});
