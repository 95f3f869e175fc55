import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { FirmwareDecryptionError, FirmwareFormatError, FirmwareKeyError } from '../errors.js';
import { sha256Hex, testImage } from '../testing/firmware-fixture.test-helper.js';
import { unwrapContentKey, wrapContentKey, wrappedContentKeyBytes, type DeviceDecryptionKeys } from './hybrid-kem.js';
import {
  CHUNK_TAG_BYTES,
  decryptChunk,
  encryptImage,
  encryptedChunkRange,
  encryptedLength,
  generateContentKey,
  type EncryptedImage,
} from './image-encryption.js';

/** A device's two key pairs, as its PUF would derive them (here: fresh). */
function testDevice(): {
  keys: DeviceDecryptionKeys;
  public: { ecdhPublicKey: Uint8Array; mlKemPublicKey: Uint8Array };
} {
  const ecdh = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const kem = ml_kem768.keygen();
  const ecdhPublicKey = new Uint8Array(ecdh.publicKey.export({ format: 'der', type: 'spki' }));
  return {
    keys: {
      ecdh: { privateKey: ecdh.privateKey as KeyObject, publicKeySpki: ecdhPublicKey },
      mlKem: { publicKey: kem.publicKey, decapsulate: (c) => ml_kem768.decapsulate(c, kem.secretKey) },
    },
    public: { ecdhPublicKey, mlKemPublicKey: kem.publicKey },
  };
}

function chunkOf(encrypted: EncryptedImage, index: number): Uint8Array {
  const { offset, length } = encryptedChunkRange(encrypted.header, index);
  return encrypted.ciphertext.slice(offset, offset + length);
}

function decryptAll(key: Uint8Array, encrypted: EncryptedImage): Uint8Array {
  const out = new Uint8Array(encrypted.header.plaintextLength);
  for (let i = 0; i < encrypted.header.chunkCount; i++)
    out.set(decryptChunk(key, encrypted.header, i, chunkOf(encrypted, i)), i * encrypted.header.chunkSize);
  return out;
}

describe('chunked AES-256-GCM image encryption', () => {
  const image = testImage(150_000);
  const digest = sha256Hex(image);
  const key = generateContentKey();
  const encrypted = encryptImage(image, digest, key, 16 * 1024);

  it('cuts the image into chunks of chunkSize + tag and decrypts back to the image', () => {
    expect(encrypted.header).toEqual({
      scheme: 'aes-256-gcm-chunked/v1',
      chunkSize: 16384,
      chunkCount: 10,
      plaintextLength: 150_000,
      imageSha256: digest,
    });
    expect(encrypted.ciphertext.length).toBe(encryptedLength(encrypted.header));
    expect(encrypted.ciphertext.length).toBe(150_000 + 10 * CHUNK_TAG_BYTES);
    expect(Buffer.from(decryptAll(key, encrypted)).equals(Buffer.from(image))).toBe(true);
  });

  it('refuses a tampered chunk and only that one (the others still open: resume from there)', () => {
    const tampered = chunkOf(encrypted, 3);
    tampered[100]! ^= 0x40;
    expect(() => decryptChunk(key, encrypted.header, 3, tampered)).toThrow(FirmwareDecryptionError);
    expect(() => decryptChunk(key, encrypted.header, 4, chunkOf(encrypted, 4))).not.toThrow();
  });

  it('refuses a chunk at the wrong index, a truncated last chunk, and a chunk of another image', () => {
    expect(() => decryptChunk(key, encrypted.header, 2, chunkOf(encrypted, 1))).toThrow(FirmwareDecryptionError);
    const last = chunkOf(encrypted, 9);
    expect(() => decryptChunk(key, encrypted.header, 9, last.subarray(0, last.length - 1))).toThrow(
      FirmwareDecryptionError,
    );
    const other = encryptImage(testImage(150_000, 9), sha256Hex(testImage(150_000, 9)), key, 16 * 1024);
    expect(() => decryptChunk(key, encrypted.header, 0, chunkOf(other, 0))).toThrow(FirmwareDecryptionError);
  });

  it('refuses to decrypt with any other content key', () => {
    expect(() => decryptChunk(generateContentKey(), encrypted.header, 0, chunkOf(encrypted, 0))).toThrow(
      FirmwareDecryptionError,
    );
  });

  it('refuses inconsistent headers and out-of-range indexes with a format error', () => {
    expect(() => decryptChunk(key, { ...encrypted.header, chunkCount: 11 }, 0, chunkOf(encrypted, 0))).toThrow(
      FirmwareFormatError,
    );
    expect(() => decryptChunk(key, encrypted.header, 10, chunkOf(encrypted, 0))).toThrow(FirmwareFormatError);
    expect(() => encryptImage(image, digest, key, 100)).toThrow(FirmwareFormatError);
  });
});

describe('hybrid ECDH P-256 + ML-KEM-768 content-key wrap', () => {
  const x = testDevice();
  const y = testDevice();
  const contentKey = generateContentKey();
  const forX = { deviceId: 'd-x', rolloutId: 'r-1' };
  const wrapped = wrapContentKey(contentKey, x.public, forX);

  it('unwraps for the device it was made for', () => {
    expect(wrapped.length).toBe(wrappedContentKeyBytes);
    expect(Buffer.from(unwrapContentKey(wrapped, x.keys, forX)).equals(Buffer.from(contentKey))).toBe(true);
  });

  it('does not unwrap for another device (Y holding X’s wrap)', () => {
    expect(() => unwrapContentKey(wrapped, y.keys, forX)).toThrow(FirmwareDecryptionError);
    expect(() => unwrapContentKey(wrapped, y.keys, { deviceId: 'd-y', rolloutId: 'r-1' })).toThrow(
      FirmwareDecryptionError,
    );
  });

  it("a rollout's ciphertext does not decrypt with the key wrapped for another device in another rollout", () => {
    const image = testImage(40_000);
    const encrypted = encryptImage(image, sha256Hex(image), contentKey);
    const otherRolloutKey = generateContentKey();
    const forY = { deviceId: 'd-y', rolloutId: 'r-2' };
    const yKey = unwrapContentKey(wrapContentKey(otherRolloutKey, y.public, forY), y.keys, forY);
    expect(() => decryptChunk(yKey, encrypted.header, 0, chunkOf(encrypted, 0))).toThrow(FirmwareDecryptionError);
  });

  it('needs BOTH private keys: X’s ECDH key with Y’s ML-KEM key fails, and the reverse', () => {
    const half1 = { ecdh: x.keys.ecdh, mlKem: { ...y.keys.mlKem, publicKey: x.public.mlKemPublicKey } };
    const half2 = { ecdh: { ...y.keys.ecdh, publicKeySpki: x.public.ecdhPublicKey }, mlKem: x.keys.mlKem };
    expect(() => unwrapContentKey(wrapped, half1, forX)).toThrow(FirmwareDecryptionError);
    expect(() => unwrapContentKey(wrapped, half2, forX)).toThrow(FirmwareDecryptionError);
  });

  it('is bound to its device and rollout (the same keys under another context fail)', () => {
    expect(() => unwrapContentKey(wrapped, x.keys, { deviceId: 'd-x', rolloutId: 'r-2' })).toThrow(
      FirmwareDecryptionError,
    );
    expect(() => unwrapContentKey(wrapped, x.keys, { deviceId: 'd-z', rolloutId: 'r-1' })).toThrow(
      FirmwareDecryptionError,
    );
  });

  it('refuses a tampered wrap, in any of its parts', () => {
    for (const at of [10, 500, wrapped.length - 20, wrapped.length - 1]) {
      const tampered = wrapped.slice();
      tampered[at]! ^= 0x01;
      expect(() => unwrapContentKey(tampered, x.keys, forX)).toThrow(FirmwareDecryptionError);
    }
    expect(() => unwrapContentKey(wrapped.subarray(1), x.keys, forX)).toThrow(FirmwareFormatError);
  });

  it('gives a fresh wrap every time (ephemeral ECDH and ML-KEM randomness)', () => {
    const again = wrapContentKey(contentKey, x.public, forX);
    expect(Buffer.from(again).equals(Buffer.from(wrapped))).toBe(false);
    expect(Buffer.from(unwrapContentKey(again, x.keys, forX)).equals(Buffer.from(contentKey))).toBe(true);
  });

  it('refuses unusable device keys with FirmwareKeyError (never falls back to one algorithm)', () => {
    expect(() =>
      wrapContentKey(contentKey, { ...x.public, mlKemPublicKey: new Uint8Array(1184).fill(0xff) }, forX),
    ).toThrow(FirmwareKeyError);
    expect(() => wrapContentKey(contentKey, { ...x.public, mlKemPublicKey: new Uint8Array(10) }, forX)).toThrow(
      FirmwareKeyError,
    );
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    expect(() => wrapContentKey(contentKey, { ...x.public, ecdhPublicKey: new Uint8Array(ed) }, forX)).toThrow(
      FirmwareKeyError,
    );
  });
});
