import { ChainVerificationError } from '../errors.js';
import {
  fixedSigner,
  issueDevice,
  LEAF_NOT_AFTER,
  makeHierarchy,
  T0,
  type Hierarchy,
} from '../fixtures.test-helper.js';
import { buildIssuingCaCertificate } from './issuing-ca.js';
import { verifyCaChain } from './verify-chain.js';

const AT = new Date('2026-06-01T00:00:00Z');

const reasonOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof ChainVerificationError) return e.reason;
    throw e;
  }
  return 'accepted';
};

describe('verifyCaChain: a CA certificate (not a leaf) under a trusted root', () => {
  let h: Hierarchy;

  beforeAll(async () => {
    h = await makeHierarchy();
  });

  it('accepts the issuing CA under its root and returns the path', async () => {
    const verified = await verifyCaChain({ certificate: h.issuing.pem, root: h.root.pem, at: AT });
    expect(verified.chain.map((c) => c.serialHex)).toEqual([h.issuing.serialHex, h.root.serialHex]);
  });

  it('refuses a self-signed "issuing CA" and an issuing CA of another root', async () => {
    const other = await makeHierarchy({ fresh: true });
    expect(await reasonOf(verifyCaChain({ certificate: other.root.der, root: h.root.der, at: AT }))).not.toBe(
      'accepted',
    );
    expect(await reasonOf(verifyCaChain({ certificate: other.issuing.der, root: h.root.der, at: AT }))).toBe(
      'AKI_MISMATCH',
    );
  });

  it('refuses an end-entity certificate, and a CA outside its validity', async () => {
    const leaf = await issueDevice(h, 'd-7f3a01');
    expect(
      await reasonOf(
        verifyCaChain({ certificate: leaf.cert.der, intermediates: [h.issuing.der], root: h.root.der, at: AT }),
      ),
    ).toBe('NOT_A_CA');
    expect(
      await reasonOf(
        verifyCaChain({ certificate: h.issuing.der, root: h.root.der, at: new Date('2045-01-01T00:00:00Z') }),
      ),
    ).toBe('EXPIRED');
  });

  it("counts the CA itself against its issuers' path length (a CA below a pathlen:0 issuing CA)", async () => {
    const subSigner = await fixedSigner('device');
    const sub = await buildIssuingCaCertificate({
      subject: { commonName: 'sub CA' },
      publicKeySpki: subSigner.publicKeySpki,
      issuer: h.issuingIssuer,
      notBefore: T0,
      notAfter: LEAF_NOT_AFTER,
    });
    expect(
      await reasonOf(verifyCaChain({ certificate: sub.der, intermediates: [h.issuing.der], root: h.root.der, at: AT })),
    ).toBe('PATH_LENGTH');
  });
});
