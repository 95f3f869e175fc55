import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePlatformKey, loadPlatformKey, signBytes, bytesSignatureValid, PlatformKeyError } from './index.js';

describe('platform key', () => {
  it('round-trips through PLATFORM_KEY_FILE (PEM) and PLATFORM_KEY (base64), signing verifiably', async () => {
    const { key, pkcs8 } = await generatePlatformKey('platform-test');
    const dir = await mkdtemp(join(tmpdir(), 'tk-platform-key-'));
    const file = join(dir, 'platform.pem');
    await writeFile(
      file,
      `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8).toString('base64')}\n-----END PRIVATE KEY-----\n`,
    );
    const fromFile = await loadPlatformKey({ PLATFORM_KEY_FILE: file, PLATFORM_KEY_ID: 'platform-test' });
    const fromEnv = await loadPlatformKey({ PLATFORM_KEY: Buffer.from(pkcs8).toString('base64') });
    expect(Buffer.from(fromFile!.publicKeySpki)).toEqual(Buffer.from(key.publicKeySpki));
    expect(fromEnv!.keyId).toBe('platform-1');
    const bytes = new TextEncoder().encode('hello');
    expect(await bytesSignatureValid(bytes, await signBytes(bytes, fromFile!.privateKey), key.publicKey)).toBe(true);
    expect(fromFile!.privateKey.extractable).toBe(false);
  });

  it('is absent when not configured, and refuses garbage without echoing it', async () => {
    expect(await loadPlatformKey({})).toBeUndefined();
    const error = await loadPlatformKey({ PLATFORM_KEY: Buffer.from('not-a-key-SECRETISH').toString('base64') }).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(PlatformKeyError);
    expect(String(error)).not.toContain('SECRETISH');
  });
});
