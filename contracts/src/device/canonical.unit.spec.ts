import { webcrypto } from 'node:crypto';
import { CanonicalEncodingError } from '../errors.js';
import { canonicalBytes, canonicalJson, keyAttestationBytes, signedBytesOf } from './canonical.js';
import { validateDeviceMessage } from './catalog.js';
import type { UnsignedDeviceEnvelope } from './define-device-message.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const unsigned: UnsignedDeviceEnvelope = {
  version: 1,
  deviceId: 'd-7f3a',
  kind: 'identity-response',
  counter: 42,
  nonce: 'AAECAwQFBgcICQoLDA0ODw==',
  sentAt: '2025-01-02T03:04:05.000Z',
  keyId: 'enrolment',
  body: { challengeId: 'ch-1', nonce: 'EBESExQVFhcYGRobHB0eHw==' },
};

describe('canonical encoding', () => {
  test('is independent of key order, at every depth', () => {
    const a = { b: 1, a: { y: [1, { z: true, x: null }], x: 'é' } };
    const b = { a: { x: 'é', y: [1, { x: null, z: true }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":"é","y":[1,{"x":null,"z":true}]},"b":1}');
    const reordered = Object.fromEntries(Object.entries(unsigned).reverse()) as UnsignedDeviceEnvelope;
    expect(canonicalBytes(reordered)).toEqual(canonicalBytes(unsigned));
  });

  test('known answer: the exact bytes a device signs', () => {
    expect(text(canonicalBytes(unsigned))).toBe(
      'tunnelkey/device-message/v1\n' +
        '{"body":{"challengeId":"ch-1","nonce":"EBESExQVFhcYGRobHB0eHw=="},"counter":42,"deviceId":"d-7f3a",' +
        '"keyId":"enrolment","kind":"identity-response","nonce":"AAECAwQFBgcICQoLDA0ODw==","sentAt":"2025-01-02T03:04:05.000Z","version":1}',
    );
  });

  test('sorts keys by UTF-16 code units and escapes as JSON does (RFC 8785)', () => {
    expect(canonicalJson({ '\u20ac': 1, '\r': 2, '1': 3, A: 4, a: 5 })).toBe('{"\\r":2,"1":3,"A":4,"a":5,"€":1}');
    expect(canonicalJson({ s: 'line\nquote"back\\\u0001' })).toBe('{"s":"line\\nquote\\"back\\\\\\u0001"}');
    expect(canonicalJson([1e21, 0.1, -0, 5])).toBe('[1e+21,0.1,0,5]');
  });

  test('undefined properties vanish as they do on the wire', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe(
      canonicalJson(JSON.parse(JSON.stringify({ a: 1, b: undefined }))),
    );
  });

  test.each([
    ['NaN', { a: Number.NaN }],
    ['Infinity', { a: Number.POSITIVE_INFINITY }],
    ['a lone surrogate', { a: '\ud800' }],
    ['a Date', { a: new Date(0) }],
    ['a Map', { a: new Map() }],
    ['a bigint', { a: 1n }],
    ['undefined in an array', { a: [undefined] }],
    ['a function', { a: () => 1 }],
  ])('refuses %s', (_, value) => {
    expect(() => canonicalJson(value)).toThrow(CanonicalEncodingError);
  });

  test('refuses an envelope that still carries its signature', () => {
    expect(() => canonicalBytes({ ...unsigned, signature: 'x' })).toThrow(/signature/);
  });

  test('attestations are domain-separated from messages', () => {
    const statement = { deviceId: 'd-7f3a', keyId: 'tls-1', publicKey: 'MFkw' };
    expect(text(keyAttestationBytes(statement))).toBe(
      'tunnelkey/tls-key-attestation/v1\n{"deviceId":"d-7f3a","keyId":"tls-1","publicKey":"MFkw"}',
    );
    expect(text(keyAttestationBytes(statement))).not.toBe(
      text(canonicalBytes(statement as unknown as UnsignedDeviceEnvelope)),
    );
  });

  test('round trip: what a device signs is what the platform verifies after JSON transport', async () => {
    const { subtle } = webcrypto;
    const ecdsa = { name: 'ECDSA', hash: 'SHA-256' } as const;
    const keys = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const signature = Buffer.from(await subtle.sign(ecdsa, keys.privateKey, canonicalBytes(unsigned))).toString(
      'base64',
    );
    const received = JSON.parse(JSON.stringify({ signature, ...unsigned })) as unknown;
    const envelope = validateDeviceMessage(received, 'uplink');
    const bytes = signedBytesOf(envelope);
    expect(await subtle.verify(ecdsa, keys.publicKey, Buffer.from(envelope.signature, 'base64'), bytes)).toBe(true);
    const tampered = { ...envelope, counter: envelope.counter + 1 };
    expect(
      await subtle.verify(ecdsa, keys.publicKey, Buffer.from(envelope.signature, 'base64'), signedBytesOf(tampered)),
    ).toBe(false);
  });
});
