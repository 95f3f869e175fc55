// Fuzzing of the one way a device message becomes trusted (DeviceMessageVerifier): whatever
// arrives on a device subject is refused with a DeviceMessageRejected, or it is exactly the
// message the device signed. `npm run fuzz` runs the same properties much longer (FUZZ_RUNS).
import { isDeepStrictEqual } from 'node:util';
import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { IdentityResponseMessage, type DeviceEnvelope } from '@tunnelkey/contracts';
import { fuzz, mutated } from '@tunnelkey/testing';
import {
  DeviceMessageRejected,
  DeviceMessageVerifier,
  EnvelopeSigner,
  importVerifyKey,
  type CryptoKey,
} from '../index.js';

const now = new Date('2026-11-27T12:00:00.000Z');
const deviceId = 'd-fuzzdevice';
const subject = IdentityResponseMessage.subject(deviceId);
const encoder = new TextEncoder();

describe('fuzzing device envelopes', () => {
  let publicKey: CryptoKey;
  let message: DeviceEnvelope;
  let bytes: Uint8Array;

  const verifier = () =>
    new DeviceMessageVerifier({
      direction: 'uplink',
      clock: () => now,
      resolveKey: async (envelope) =>
        envelope.deviceId !== deviceId ? undefined : envelope.keyId === 'enrolment' ? publicKey : null,
    });

  /** The verified envelope, or 'refused'; anything thrown other than DeviceMessageRejected fails the property. */
  async function verified(subjectUsed: string, data: Uint8Array): Promise<DeviceEnvelope | 'refused'> {
    try {
      return await verifier().verify(subjectUsed, data);
    } catch (error) {
      if (error instanceof DeviceMessageRejected) return 'refused';
      throw error;
    }
  }

  beforeAll(async () => {
    const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    publicKey = await importVerifyKey(new Uint8Array(await webcrypto.subtle.exportKey('spki', pair.publicKey)));
    message = await new EnvelopeSigner(deviceId, 0, () => now).sign(
      IdentityResponseMessage,
      { challengeId: 'c-1', nonce: Buffer.alloc(16, 7).toString('base64') },
      { keyId: 'enrolment', privateKey: pair.privateKey },
    );
    bytes = encoder.encode(JSON.stringify(message));
  });

  it('the valid message is accepted (the properties below start from it)', async () => {
    expect(await verified(subject, bytes)).toEqual(message);
  });

  it('arbitrary bytes, JSON values and envelopes on a device subject are refused, never a crash', async () => {
    const envelopeLike = fc.record(
      {
        version: fc.oneof(fc.integer(), fc.constant(message.version)),
        deviceId: fc.oneof(fc.string(), fc.constant(deviceId)),
        kind: fc.oneof(fc.string(), fc.constant(message.kind)),
        counter: fc.oneof(fc.integer(), fc.double(), fc.string()),
        nonce: fc.oneof(fc.string(), fc.base64String(), fc.constant(message.nonce)),
        sentAt: fc.oneof(
          fc.string(),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        keyId: fc.oneof(fc.string(), fc.constant('enrolment')),
        body: fc.jsonValue(),
        signature: fc.oneof(fc.string(), fc.base64String(), fc.constant(message.signature)),
      },
      { requiredKeys: [] },
    );
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 1024 }),
      fc.jsonValue().map((v) => encoder.encode(JSON.stringify(v))),
      envelopeLike.map((v) => encoder.encode(JSON.stringify(v))),
    );
    await fuzz(
      'device envelope: arbitrary input',
      fc.asyncProperty(input, async (data) => {
        expect(await verified(subject, data)).toBe('refused');
      }),
    );
  });

  it('a byte-level mutation of a signed message is refused, or it is the same message', async () => {
    await fuzz(
      'device envelope: byte mutations',
      fc.asyncProperty(mutated(bytes), async (data) => {
        const result = await verified(subject, data);
        if (result !== 'refused') expect(isDeepStrictEqual(result, message)).toBe(true);
      }),
    );
  });

  it('replacing any field of a signed message with any JSON value is refused unless the value is unchanged', async () => {
    const fields = Object.keys(message) as (keyof DeviceEnvelope)[];
    const bodyFields = Object.keys(message.body as object);
    const change = fc.oneof(
      fc.tuple(fc.constantFrom(...fields), fc.jsonValue()).map(([field, value]) => ({ ...message, [field]: value })),
      fc
        .tuple(fc.constantFrom(...bodyFields), fc.jsonValue())
        .map(([field, value]) => ({ ...message, body: { ...(message.body as object), [field]: value } })),
      fc.tuple(fc.string(), fc.jsonValue()).map(([field, value]) => ({ ...message, [field]: value })),
    );
    await fuzz(
      'device envelope: field replacements',
      fc.asyncProperty(change, async (changed) => {
        const result = await verified(subject, encoder.encode(JSON.stringify(changed)));
        if (result !== 'refused') expect(isDeepStrictEqual(result, message)).toBe(true);
      }),
    );
  });

  it('the signed message on any other subject is refused', async () => {
    const otherSubject = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.stringMatching(/^dev\.[a-z0-9-]{1,20}\.[a-z-]{1,20}$/),
      fc.stringMatching(/^dev\.[a-z0-9-]{1,20}\.inbox\.[a-z-]{1,20}$/),
    );
    await fuzz(
      'device envelope: other subjects',
      fc.asyncProperty(otherSubject, async (s) => {
        fc.pre(s !== subject);
        expect(await verified(s, bytes)).toBe('refused');
      }),
    );
  });
});

describe('found by fuzzing, kept as regular tests', () => {
  it('a signature spelled in non-canonical base64 (same bytes, other text) is malformed, not a second valid message', async () => {
    const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const publicKey = await importVerifyKey(new Uint8Array(await webcrypto.subtle.exportKey('spki', pair.publicKey)));
    const message = await new EnvelopeSigner(deviceId, 0, () => now).sign(
      IdentityResponseMessage,
      { challengeId: 'c-1', nonce: Buffer.alloc(16, 7).toString('base64') },
      { keyId: 'enrolment', privateKey: pair.privateKey },
    );
    // The 86th character holds 2 data bits; setting one of its 4 padding bits keeps the bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet.indexOf(message.signature[85]!);
    const respelled = `${message.signature.slice(0, 85)}${alphabet[last | 1]}==`;
    expect(Buffer.from(respelled, 'base64')).toEqual(Buffer.from(message.signature, 'base64'));
    const verifier = new DeviceMessageVerifier({
      direction: 'uplink',
      clock: () => now,
      resolveKey: async () => publicKey,
    });
    await expect(
      verifier.verify(subject, encoder.encode(JSON.stringify({ ...message, signature: respelled }))),
    ).rejects.toMatchObject({ code: 'malformed' });
  });
});
