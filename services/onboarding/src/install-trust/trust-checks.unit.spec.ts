import { OnboardingConfigError } from '../errors.js';
import {
  createTestAuthority,
  createTestRoot,
  issueTestCrl,
  type TestAuthority,
  type TestRoot,
} from '../test-support/test-pki.test-helper.js';
import { checkAnchor, checkCrl, pinnedRootSha256Of, type AnchorCheck, type VerifiedAnchor } from './trust-checks.js';

const at = new Date();

describe('trust checks: what a target may be given', () => {
  let root: TestRoot;
  let acme: TestAuthority;
  let pin: string;

  beforeAll(async () => {
    root = await createTestRoot('platform');
    acme = await createTestAuthority('acme', { root });
    pin = root.root.fingerprintSha256;
  });

  const anchor = async (chainPem: readonly string[], extra: { createdCertificatePem?: string } = {}) =>
    checkAnchor({ authorityId: 'issuing-acme', chainPem, pinnedRootSha256: pin, at, ...extra });
  const reason = (check: AnchorCheck) => (check.ok ? 'accepted' : check.reason);

  describe('the pinned root', () => {
    it("takes openssl's colon form or plain hex, and refuses anything else naming the variable", () => {
      const colons = pin.toUpperCase().match(/../g)!.join(':');
      expect(pinnedRootSha256Of(colons)).toBe(pin);
      expect(pinnedRootSha256Of(` ${pin} `)).toBe(pin);
      expect(pinnedRootSha256Of(undefined)).toBeUndefined();
      expect(() => pinnedRootSha256Of('abc')).toThrow(OnboardingConfigError);
      expect(() => pinnedRootSha256Of(`${pin}00`)).toThrow(/TRUSTED_ROOT_SHA256/);
    });
  });

  describe('an issuing CA chain', () => {
    it('is accepted under the pinned root: the verified path, re-encoded, and its fingerprint', async () => {
      const checked = await anchor(acme.chainPem);
      expect(checked).toMatchObject({ ok: true, authorityId: 'issuing-acme', chainPem: acme.chainPem });
      expect((checked as VerifiedAnchor).fingerprintSha256).toBe(acme.issuing.fingerprintSha256);
    });

    it('is refused with no root pinned', async () => {
      const checked = await checkAnchor({
        authorityId: 'issuing-acme',
        chainPem: acme.chainPem,
        pinnedRootSha256: undefined,
        at,
      });
      expect(reason(checked)).toBe('no-pinned-root');
    });

    it('is refused when it is a self-signed "issuing CA"', async () => {
      const forged = await createTestRoot('acme issuing CA');
      expect(reason(await anchor([forged.root.pem]))).toBe('root-not-pinned');
      // ... even with the pinned root put after it
      expect(reason(await anchor([forged.root.pem, root.root.pem]))).toBe('chain-does-not-verify');
    });

    it('is refused when it leads to another root, even one with the same names', async () => {
      const other = await createTestAuthority('acme', { root: await createTestRoot('platform') });
      expect(reason(await anchor(other.chainPem))).toBe('root-not-pinned');
      expect(reason(await anchor([other.issuing.pem, root.root.pem]))).toBe('chain-does-not-verify');
    });

    it('is refused when it carries a certificate off its path (nothing else may reach the CA file)', async () => {
      const stowaway = await createTestRoot('stowaway');
      expect(reason(await anchor([acme.issuing.pem, stowaway.root.pem, root.root.pem]))).toBe('chain-does-not-verify');
    });

    it('is refused when it is not what the authority was created with, or not a certificate at all', async () => {
      const sibling = await createTestAuthority('acme', { root });
      expect(reason(await anchor(sibling.chainPem, { createdCertificatePem: acme.issuing.pem }))).toBe(
        'not-the-created-authority',
      );
      expect(reason(await anchor(acme.chainPem, { createdCertificatePem: acme.issuing.pem }))).toBe('accepted');
      expect(reason(await anchor(['-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n']))).toBe(
        'malformed-chain',
      );
    });

    it('is refused outside its validity', async () => {
      const checked = await checkAnchor({
        authorityId: 'issuing-acme',
        chainPem: acme.chainPem,
        pinnedRootSha256: pin,
        at: new Date(Date.now() + 20 * 365 * 86_400_000),
      });
      expect(checked).toMatchObject({
        ok: false,
        reason: 'chain-does-not-verify',
        detail: expect.stringMatching(/EXPIRED/),
      });
    });
  });

  describe('a CRL', () => {
    let issuing: VerifiedAnchor;
    beforeAll(async () => {
      issuing = (await anchor(acme.chainPem)) as VerifiedAnchor;
    });
    const crlOf = async (authority: TestAuthority, crlNumber: number) => ({
      authorityId: 'issuing-acme',
      crlNumber,
      crlPem: (await issueTestCrl(authority, [], { crlNumber })).crlPem,
    });

    it('is accepted when the verified issuing CA signed it with the number it is announced with', async () => {
      const crl = await crlOf(acme, 3);
      const checked = await checkCrl({ crl, issuing: issuing.issuing, floor: { crlNumber: 2 } });
      expect(checked).toMatchObject({ ok: true, crl, unchanged: false });
    });

    it('is refused when another key signed it, even under the same name', async () => {
      const impostor = await createTestAuthority('acme', { root });
      const checked = await checkCrl({ crl: await crlOf(impostor, 3), issuing: issuing.issuing });
      expect(checked).toMatchObject({ ok: false, reason: 'bad-crl-signature' });
    });

    it('is refused when its own number is not the one announced (a replayed CRL)', async () => {
      const crl = { ...(await crlOf(acme, 1)), crlNumber: 5 };
      expect(await checkCrl({ crl, issuing: issuing.issuing })).toMatchObject({
        ok: false,
        reason: 'crl-number-mismatch',
      });
    });

    it("is refused below the floor, and with the floor's number but other bytes; the same one is a no-op", async () => {
      const two = await crlOf(acme, 2);
      const accepted = await checkCrl({ crl: two, issuing: issuing.issuing });
      if (!accepted.ok) throw new Error('CRL 2 refused');
      const floor = { crlNumber: 2, crlDigest: accepted.crlDigest };
      expect(await checkCrl({ crl: await crlOf(acme, 1), issuing: issuing.issuing, floor })).toMatchObject({
        ok: false,
        reason: 'crl-number-went-down',
      });
      expect(await checkCrl({ crl: await crlOf(acme, 2), issuing: issuing.issuing, floor })).toMatchObject({
        ok: false,
        reason: 'crl-number-reused',
      });
      expect(await checkCrl({ crl: two, issuing: issuing.issuing, floor })).toMatchObject({
        ok: true,
        unchanged: true,
      });
    });

    it('is refused when it is not one PEM CRL', async () => {
      const crl = await crlOf(acme, 4);
      const two = { ...crl, crlPem: crl.crlPem + crl.crlPem };
      expect(await checkCrl({ crl: two, issuing: issuing.issuing })).toMatchObject({
        ok: false,
        reason: 'malformed-crl',
      });
    });
  });
});
