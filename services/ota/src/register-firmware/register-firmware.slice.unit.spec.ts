import { createPublicKey, verify } from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { signingBytes, parseTufMetadata } from '@tunnelkey/firmware';
import { RegisterFirmwareProductHandlerCase } from './register-firmware.test-cases.js';

const cases = new RegisterFirmwareProductHandlerCase();

describe('RegisterFirmware (slice)', () => {
  beforeEach(() => cases.start());
  afterEach(() => cases.close());

  test('an upload with the declared size and digest is released: targets metadata signed with ECDSA P-256 and ML-DSA-65', async () => {
    const result = await cases.release('2.0.0');
    expect(result).toMatchObject({ firmwareId: 'fw-2-0-0', metadataVersion: 1, signingKeyId: 'ota-signing-1' });
    const [registered] = await cases.slice.events('FirmwareImageRegistered');
    expect(registered!.data).toMatchObject({ product: 'fridge-x200', version: '2.0.0', sizeBytes: cases.image.length });
    const [signed] = await cases.slice.events('FirmwareImageSigned');
    const metadata = parseTufMetadata((signed!.data as { targets: string }).targets);
    const bytes = signingBytes(metadata.signed);
    const [delegated] = await cases.slice.events('FirmwareSigningKeyDelegated');
    const keys = delegated!.data as { ecdsaPublicKey: string; mlDsaPublicKey: string };
    const ecdsa = createPublicKey({ key: Buffer.from(keys.ecdsaPublicKey, 'base64'), format: 'der', type: 'spki' });
    expect(
      verify('sha256', bytes, { key: ecdsa, dsaEncoding: 'der' }, Buffer.from(metadata.signatures[0]!.sig, 'hex')),
    ).toBe(true);
    const mlDsaKey = new Uint8Array(Buffer.from(keys.mlDsaPublicKey, 'base64'));
    expect(ml_dsa65.verify(new Uint8Array(Buffer.from(metadata.signatures[1]!.sig, 'hex')), bytes, mlDsaKey)).toBe(
      true,
    );
    // The image itself is never in an event.
    expect(JSON.stringify(await cases.slice.events())).not.toContain(
      Buffer.from(cases.image).toString('base64').slice(0, 64),
    );
  });

  test.each([
    ['digest-mismatch', { imageDigest: 'ef'.repeat(32) }],
    ['size-mismatch', { sizeBytes: 1000 }],
    ['image-too-large', { sizeBytes: 64 * 1024 * 1024 + 1 }],
    ['unknown-product', { product: 'toaster-1' }],
    ['version-not-above-current', { version: '1.0.0' }],
    ['image-not-found', { objectName: 'upload-none' }],
  ])('refused, writing nothing: %s', async (reason, overrides) => {
    const before = (await cases.slice.events()).length;
    await expect(cases.release('2.0.0', overrides)).rejects.toMatchObject({ reason });
    expect((await cases.slice.events()).length).toBe(before);
  });

  test('a version not above the current release is refused; the next one gets the next metadata version', async () => {
    await cases.release('2.0.0');
    await expect(cases.release('1.9.0')).rejects.toMatchObject({ reason: 'version-not-above-current' });
    await expect(cases.release('2.0.0', { firmwareId: 'fw-again' })).rejects.toMatchObject({
      reason: 'version-not-above-current',
    });
    expect(await cases.release('2.1.0')).toMatchObject({ metadataVersion: 2 });
    // The same command again answers the same, writing nothing.
    const before = (await cases.slice.events()).length;
    expect(await cases.release('2.1.0')).toMatchObject({ metadataVersion: 2 });
    expect((await cases.slice.events()).length).toBe(before);
  });
});
