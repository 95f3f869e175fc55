import { KeyObject, createPublicKey, webcrypto } from 'node:crypto';
import {
  DEVICE_ID_PATTERN,
  base32Lower,
  deviceIdMatchesPublicKey,
  identityFromPublicKey,
  isDeviceId,
} from './device-identity.js';
import {
  ENROLMENT_CONTEXT,
  FIRMWARE_DECRYPTION_CONTEXT,
  KeyContext,
  firmwareDecryptionContext,
  keyContextLabel,
  ownerContext,
  tlsContext,
} from './key-context.js';
import {
  P256_ORDER,
  deriveContextSecret,
  deriveP256KeyPair,
  importPublicKey,
  p256ScalarFromSecret,
} from './p256-key-derivation.js';

const root = new Uint8Array(32).fill(0x5a);

describe('key contexts', () => {
  it('give distinct, stable labels', () => {
    const contexts: KeyContext[] = [
      ENROLMENT_CONTEXT,
      tlsContext(0),
      tlsContext(1),
      tlsContext(0, 1),
      tlsContext(1, 1),
      tlsContext(0, 2),
      ownerContext(0),
      ownerContext(1),
      FIRMWARE_DECRYPTION_CONTEXT,
      firmwareDecryptionContext(1),
      firmwareDecryptionContext(2),
    ];
    const labels = contexts.map(keyContextLabel);
    expect(new Set(labels).size).toBe(labels.length);
    expect(keyContextLabel(tlsContext(7))).toBe('tunnelkey/puf/key/v1/tls/generation/7');
    // Epoch 0 is the label devices had before transfers existed: their keys stay the same.
    expect(keyContextLabel(tlsContext(7, 0))).toBe('tunnelkey/puf/key/v1/tls/generation/7');
    expect(keyContextLabel(tlsContext(7, 3))).toBe('tunnelkey/puf/key/v1/owner/epoch/3/tls/generation/7');
  });

  it('reject invalid counters', () => {
    expect(() => keyContextLabel(tlsContext(-1))).toThrow(/generation/);
    expect(() => keyContextLabel(ownerContext(1.5))).toThrow(/epoch/);
    expect(() => keyContextLabel(tlsContext(0, -1))).toThrow(/epoch/);
  });
});

describe('P-256 key derivation', () => {
  it('reduces the scalar into [1, n-1]', () => {
    for (let i = 0; i < 50; i++) {
      const d = BigInt(`0x${p256ScalarFromSecret(deriveContextSecret(root, tlsContext(i))).toString('hex')}`);
      expect(d >= 1n && d < P256_ORDER).toBe(true);
    }
  });

  it('derives a deterministic, non-extractable ECDSA key pair that signs and verifies', async () => {
    const secret = deriveContextSecret(root, ENROLMENT_CONTEXT);
    const a = await deriveP256KeyPair(secret, ENROLMENT_CONTEXT);
    const b = await deriveP256KeyPair(secret, ENROLMENT_CONTEXT);
    expect(a.publicKeySpki).toEqual(b.publicKeySpki);
    expect(a.privateKey.extractable).toBe(false);
    await expect(webcrypto.subtle.exportKey('jwk', a.privateKey)).rejects.toThrow();
    const data = Buffer.from('device message');
    const sig = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, a.privateKey, data);
    const publicKey = await importPublicKey(b);
    expect(await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, sig, data)).toBe(true);
    // Our SPKI DER is the public half of the private key, as node exports it.
    expect(createPublicKey(KeyObject.from(a.privateKey)).export({ type: 'spki', format: 'der' })).toEqual(
      Buffer.from(a.publicKeySpki),
    );
    const viaNode = createPublicKey({ key: Buffer.from(a.publicKeySpki), format: 'der', type: 'spki' });
    expect(viaNode.asymmetricKeyType).toBe('ec');
  });

  it('derives an ECDH key for firmware decryption that agrees with a peer', async () => {
    const fw = await deriveP256KeyPair(
      deriveContextSecret(root, FIRMWARE_DECRYPTION_CONTEXT),
      FIRMWARE_DECRYPTION_CONTEXT,
    );
    expect(fw.algorithm).toBe('ECDH');
    const peer = await webcrypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
    const mine = await webcrypto.subtle.deriveBits({ name: 'ECDH', public: peer.publicKey }, fw.privateKey, 256);
    const theirs = await webcrypto.subtle.deriveBits(
      { name: 'ECDH', public: await importPublicKey(fw) },
      peer.privateKey,
      256,
    );
    expect(Buffer.from(mine)).toEqual(Buffer.from(theirs));
  });
});

describe('device identity', () => {
  it('base32-encodes per RFC 4648 (lowercase, unpadded)', () => {
    expect(base32Lower(Buffer.from('foobar'))).toBe('mzxw6ytboi');
  });

  it('is d- + base32 of the SHA-256 of the SPKI, URL/NATS-safe, and checkable', async () => {
    const pair = await deriveP256KeyPair(deriveContextSecret(root, ENROLMENT_CONTEXT), ENROLMENT_CONTEXT);
    const id = identityFromPublicKey(pair.publicKeySpki);
    expect(id).toMatch(DEVICE_ID_PATTERN);
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    expect(id).toHaveLength(34);
    expect(isDeviceId(id)).toBe(true);
    expect(deviceIdMatchesPublicKey(id, pair.publicKeySpki)).toBe(true);
    const other = await deriveP256KeyPair(deriveContextSecret(root, tlsContext(1)), tlsContext(1));
    expect(deviceIdMatchesPublicKey(id, other.publicKeySpki)).toBe(false);
  });
});
