import { randomBytes } from 'node:crypto';
import { OID } from '../oids.js';
import { verifySignature } from '../signer/verify-signature.js';
import { Kek, loadKek } from './kek.js';
import { deriveP256SignerUnderKek } from './kek-derived-key.js';
import { InvalidPkiInputError, KekError } from '../errors.js';

const kekOf = () => Kek.fromBytes(randomBytes(32));

describe('deriveP256SignerUnderKek', () => {
  it('gives the same key for the same KEK and label, and signatures that verify under its SPKI', async () => {
    const kek = await kekOf();
    const a = await deriveP256SignerUnderKek(kek, 'target/t-1');
    const b = await deriveP256SignerUnderKek(kek, 'target/t-1');
    expect(Buffer.from(a.publicKeySpki).toString('hex')).toBe(Buffer.from(b.publicKeySpki).toString('hex'));
    const data = new TextEncoder().encode('to be signed');
    const signature = await a.sign(data);
    const check = { algorithmOid: OID.ecdsaWithSha256, spki: b.publicKeySpki, data };
    expect(await verifySignature({ ...check, signature })).toBe(true);
  });

  it('gives unrelated keys for another label or another KEK', async () => {
    const kek = await kekOf();
    const hex = async (k: Kek, label: string) =>
      Buffer.from((await deriveP256SignerUnderKek(k, label)).publicKeySpki).toString('hex');
    const base = await hex(kek, 'target/t-1');
    expect(await hex(kek, 'target/t-2')).not.toBe(base);
    expect(await hex(await kekOf(), 'target/t-1')).not.toBe(base);
  });

  it('refuses an empty or oversized label', async () => {
    const kek = await kekOf();
    await expect(deriveP256SignerUnderKek(kek, '')).rejects.toBeInstanceOf(InvalidPkiInputError);
    await expect(deriveP256SignerUnderKek(kek, 'x'.repeat(257))).rejects.toBeInstanceOf(InvalidPkiInputError);
  });
});

describe('loadKek for another service', () => {
  it('reads <variable> or <variable>_FILE and names them in its errors', async () => {
    const hex = randomBytes(32).toString('hex');
    const kek = await loadKek({ env: { ONBOARDING_KEK: hex }, variable: 'ONBOARDING_KEK' });
    expect(kek.id).toBe((await loadKek({ env: { CA_KEK: hex } })).id);
    await expect(loadKek({ env: { CA_KEK: hex }, variable: 'ONBOARDING_KEK' })).rejects.toThrow(
      'no KEK configured: set ONBOARDING_KEK or ONBOARDING_KEK_FILE',
    );
    await expect(loadKek({ env: {}, variable: 'ONBOARDING_KEK' })).rejects.toBeInstanceOf(KekError);
  });
});
