import { randomBytes } from 'node:crypto';
import { subtle } from '../engine.js';
import { KekError, KeyUnwrapError } from '../errors.js';
import { generateP256KeyPair } from '../signer/webcrypto-signer.js';
import { verifySignature } from '../signer/verify-signature.js';
import { OID } from '../oids.js';
import { generateWrappedCaKey, unwrapCaPrivateKey, unwrapCaSigner, wrapCaPrivateKey } from './ca-key-wrap.js';
import { Kek, loadKek } from './kek.js';

const KEY_HEX = 'c3a1f09e5b7d24e8916f0a3c5d8e2b47f1a9063d7e5c28b4a6f1e03d9c7b5a21';
const KEY_B64 = Buffer.from(KEY_HEX, 'hex').toString('base64');

const expectUnwrapFailure = async (p: Promise<unknown>, reason: string) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyUnwrapError);
  expect((err as KeyUnwrapError).reason).toBe(reason);
  expect((err as KeyUnwrapError).code).toBe('PKI_KEY_UNWRAP_FAILED');
  return err as KeyUnwrapError;
};

describe('KEK loading', () => {
  it('accepts CA_KEK as hex or base64 (standard, url-safe, unpadded); same key -> same id', async () => {
    const a = await loadKek({ env: { CA_KEK: KEY_HEX } });
    const b = await loadKek({ env: { CA_KEK: ` ${KEY_B64}\n` } });
    const c = await loadKek({ env: { CA_KEK: KEY_B64.replace(/=$/, '').replace(/\+/g, '-').replace(/\//g, '_') } });
    expect(a.id).toMatch(/^[0-9a-f]{16}$/);
    expect(b.id).toBe(a.id);
    expect(c.id).toBe(a.id);
    expect(a.key.extractable).toBe(false);
    expect(JSON.stringify(a)).toBe(`{"id":"${a.id}"}`);
  });

  it('accepts CA_KEK_FILE holding raw bytes or text', async () => {
    const raw = Buffer.from(KEY_HEX, 'hex');
    const files: Record<string, Uint8Array | string> = { '/run/secrets/raw': raw, '/run/secrets/hex': `${KEY_HEX}\n` };
    const readFile = (p: string) => files[p] ?? Promise.reject(new Error('ENOENT'));
    const expected = (await loadKek({ env: { CA_KEK: KEY_HEX } })).id;
    expect((await loadKek({ env: { CA_KEK_FILE: '/run/secrets/raw' }, readFile })).id).toBe(expected);
    expect((await loadKek({ env: { CA_KEK_FILE: '/run/secrets/hex' }, readFile })).id).toBe(expected);
    await expect(loadKek({ env: { CA_KEK_FILE: '/nope' }, readFile })).rejects.toThrow(/cannot read CA_KEK_FILE/);
    await expect(loadKek({ env: { CA_KEK_FILE: '/run/secrets/raw' } })).rejects.toBeInstanceOf(KekError);
  });

  it.each([
    ['missing', {}],
    ['both set', { CA_KEK: KEY_HEX, CA_KEK_FILE: '/x' }],
    ['too short', { CA_KEK: KEY_HEX.slice(0, 62) }],
    ['16 bytes', { CA_KEK: randomBytes(16).toString('base64') }],
    ['48 bytes', { CA_KEK: randomBytes(48).toString('base64') }],
    ['not hex or base64', { CA_KEK: 'correct horse battery staple correct horse battery' }],
    ['all zeros', { CA_KEK: '00'.repeat(32) }],
    ['one repeated byte', { CA_KEK: 'ab'.repeat(32) }],
    ['counter', { CA_KEK: Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex') }],
    ['few distinct bytes', { CA_KEK: '0102030405060708'.repeat(8) }],
    ['printable text as base64', { CA_KEK: Buffer.from('this-is-my-super-secret-kek-1234').toString('base64') }],
  ])('rejects %s with a KekError that leaks nothing', async (_name, env) => {
    const err = await loadKek({ env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KekError);
    const text = `${(err as Error).message} ${JSON.stringify((err as KekError).context)}`;
    for (const v of Object.values(env)) if (v.length > 8) expect(text).not.toContain(v.trim());
  });
});

describe('CA key wrapping (AES-256-GCM, versioned, bound to the CA id)', () => {
  let kek: Kek;
  let pkcs8: Uint8Array;
  let wrapped: Uint8Array;
  beforeAll(async () => {
    kek = await loadKek({ env: { CA_KEK: KEY_HEX } });
    const pair = await generateP256KeyPair({ extractable: true });
    pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', pair.privateKey));
    wrapped = await wrapCaPrivateKey({ privateKey: pkcs8, kek, caId: 'issuing:acme' });
  });

  it('has the v1 layout: magic, version, KEK id, IV, ciphertext+tag; the key is not in clear', () => {
    expect(Buffer.from(wrapped.subarray(0, 4)).toString()).toBe('TKCK');
    expect(wrapped[4]).toBe(1);
    expect(Buffer.from(wrapped.subarray(5, 13)).toString('hex')).toBe(kek.id);
    expect(wrapped.length).toBe(25 + pkcs8.length + 16);
    expect(Buffer.from(wrapped).includes(Buffer.from(pkcs8.subarray(-32)))).toBe(false);
  });

  it('is deterministic for a fixed IV (known answer on the header) and fresh otherwise', async () => {
    const a = await wrapCaPrivateKey({
      privateKey: pkcs8,
      kek,
      caId: 'issuing:acme',
      random: (n) => new Uint8Array(n).fill(7),
    });
    const b = await wrapCaPrivateKey({
      privateKey: pkcs8,
      kek,
      caId: 'issuing:acme',
      random: (n) => new Uint8Array(n).fill(7),
    });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a.subarray(0, 25)).toString('hex')).toBe(`544b434b01${kek.id}${'07'.repeat(12)}`);
    const c = await wrapCaPrivateKey({ privateKey: pkcs8, kek, caId: 'issuing:acme' });
    expect(Buffer.from(c).equals(Buffer.from(wrapped))).toBe(false);
  });

  it('unwraps to a non-extractable signing key whose signatures verify with the derived public key', async () => {
    const { privateKey, publicKeySpki } = await unwrapCaPrivateKey({ wrapped, kek, caId: 'issuing:acme' });
    expect(privateKey.extractable).toBe(false);
    expect(privateKey.usages).toEqual(['sign']);
    await expect(subtle.exportKey('pkcs8', privateKey)).rejects.toThrow();
    const signer = await unwrapCaSigner({ wrapped, kek, caId: 'issuing:acme' });
    const data = new TextEncoder().encode('tbs');
    const signature = await signer.sign(data);
    expect(await verifySignature({ spki: publicKeySpki, algorithmOid: OID.ecdsaWithSha256, data, signature })).toBe(
      true,
    );
  });

  it('wrong KEK -> KEK_MISMATCH', async () => {
    const other = await Kek.fromBytes(new Uint8Array(randomBytes(32)));
    await expectUnwrapFailure(unwrapCaPrivateKey({ wrapped, kek: other, caId: 'issuing:acme' }), 'KEK_MISMATCH');
  });

  it('wrong CA id -> AUTHENTICATION_FAILED (AAD binds the blob to its CA)', async () => {
    await expectUnwrapFailure(unwrapCaPrivateKey({ wrapped, kek, caId: 'issuing:globex' }), 'AUTHENTICATION_FAILED');
  });

  it('any flipped byte -> typed failure, never a key', async () => {
    for (const index of [0, 4, 6, 14, 30, wrapped.length - 1]) {
      const t = wrapped.slice();
      t[index]! ^= 0x01;
      const err = await unwrapCaPrivateKey({ wrapped: t, kek, caId: 'issuing:acme' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyUnwrapError);
    }
    await expectUnwrapFailure(
      unwrapCaPrivateKey({ wrapped: wrapped.subarray(0, 30), kek, caId: 'issuing:acme' }),
      'MALFORMED',
    );
    const v2 = wrapped.slice();
    v2[4] = 2;
    await expectUnwrapFailure(unwrapCaPrivateKey({ wrapped: v2, kek, caId: 'issuing:acme' }), 'UNSUPPORTED_VERSION');
  });

  it('error messages and context carry no key material', async () => {
    const other = await Kek.fromBytes(new Uint8Array(randomBytes(32)));
    const errs = [
      await expectUnwrapFailure(unwrapCaPrivateKey({ wrapped, kek: other, caId: 'issuing:acme' }), 'KEK_MISMATCH'),
      await expectUnwrapFailure(unwrapCaPrivateKey({ wrapped, kek, caId: 'x' }), 'AUTHENTICATION_FAILED'),
    ];
    for (const e of errs) {
      const text = `${e.message} ${JSON.stringify(e.context)}`;
      expect(text).not.toContain(KEY_HEX);
      expect(text).not.toContain(Buffer.from(pkcs8).toString('hex').slice(-64));
      expect(text).not.toContain(Buffer.from(pkcs8).toString('base64').slice(-40));
    }
  });

  it('generateWrappedCaKey: a new CA key, sealed, usable, and recoverable after restart', async () => {
    const { wrapped: w, signer } = await generateWrappedCaKey({ kek, caId: 'root' });
    const again = await unwrapCaSigner({ wrapped: w, kek, caId: 'root' });
    expect(Buffer.from(again.publicKeySpki).equals(Buffer.from(signer.publicKeySpki))).toBe(true);
    const data = new Uint8Array([1, 2, 3]);
    expect(
      await verifySignature({
        spki: signer.publicKeySpki,
        algorithmOid: OID.ecdsaWithSha256,
        data,
        signature: await again.sign(data),
      }),
    ).toBe(true);
  });
});
