import { OnboardingConfigError } from '../errors.js';
import {
  createTestAuthority,
  createTestRoot,
  type TestAuthority,
  type TestRoot,
} from '../test-support/test-pki.test-helper.js';
import { checkAnchor, pinnedRootSha256Of, type AnchorCheck, type VerifiedAnchor } from './trust-checks.js';

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
});
