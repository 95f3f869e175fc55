/** Test helper: a platform key, a pair of firmware-signing keys, a release and its documents. */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { generateFirmwareSigningKeys, type FirmwareSigningKeys } from '../keys/signing-keys.js';
import { signDelegation, type PlatformSigningKey } from '../metadata/delegation.js';
import { signRelease, type FirmwareRelease } from '../metadata/release-metadata.js';
import type { TufMetadata } from '../metadata/tuf-metadata.js';

export interface TestPlatform extends PlatformSigningKey {
  privateKey: KeyObject;
}

export function testPlatformKey(): TestPlatform {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKeySpki: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })) };
}

export const testImage = (length = 150_000, fill = 7): Uint8Array => {
  const image = new Uint8Array(length);
  for (let i = 0; i < length; i++) image[i] = (i * 31 + fill) & 0xff;
  return image;
};

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function testRelease(image: Uint8Array, overrides: Partial<FirmwareRelease> = {}): FirmwareRelease {
  return {
    firmwareId: 'fw-fridge-2-0-0',
    product: 'fridge-x200',
    version: '2.0.0',
    imageSha256: sha256Hex(image),
    length: image.length,
    metadataVersion: 5,
    expires: '2027-06-01T00:00:00Z',
    ...overrides,
  };
}

export interface SignedFixture {
  platform: TestPlatform;
  keys: FirmwareSigningKeys;
  delegation: TufMetadata;
  metadata: TufMetadata;
  image: Uint8Array;
}

/** One platform key, one pair of signing keys delegated at version 1, one release of a test image. */
export async function signedFixture(release: Partial<FirmwareRelease> = {}): Promise<SignedFixture> {
  const platform = testPlatformKey();
  const { keys } = generateFirmwareSigningKeys();
  const delegation = await signDelegation(
    { version: 1, expires: '2028-01-01T00:00:00Z', ecdsa: keys.ecdsa.key, mlDsa: keys.mlDsa.key },
    platform,
  );
  const image = testImage();
  const metadata = await signRelease(testRelease(image, release), keys);
  return { platform, keys, delegation, metadata, image };
}
