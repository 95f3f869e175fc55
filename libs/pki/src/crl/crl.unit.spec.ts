import { toHex } from '../encoding/bytes.js';
import { ChainVerificationError, InvalidPkiInputError, SignatureVerificationError } from '../errors.js';
import { issueDevice, makeHierarchy, T0, type Hierarchy } from '../fixtures.test-helper.js';
import { openssl, opensslVerifyCrl, tempFiles } from '../openssl.test-helper.js';
import { parseCertificate } from '../certificate/parse-certificate.js';
import { verifyChain } from '../certificate/verify-chain.js';
import { randomBytes, randomInt } from 'node:crypto';
import { buildCrl, crlTbs, type CrlRequest, type RevokedCertificateEntry } from './build-crl.js';
import { crlTbsWithPkijs } from './crl-pkijs.js';
import { findRevocation, isRevoked, parseCrl, verifyCrl } from './parse-crl.js';
import {
  type RevocationReason,
  REVOCATION_REASON_CODES,
  isRevocationReason,
  revocationReasonCode,
  revocationReasonFromCode,
} from './revocation-reason.js';

const THIS_UPDATE = new Date('2026-03-01T10:00:00Z');
const NEXT_UPDATE = new Date('2026-03-02T10:00:00Z');
const AT = new Date('2026-03-01T12:00:00Z');
const epoch = (d: Date) => String(d.getTime() / 1000);

describe('revocation reasons (RFC 5280 5.3.1)', () => {
  it('map names to codes and back', () => {
    expect(revocationReasonCode('unspecified')).toBe(0);
    expect(revocationReasonCode('keyCompromise')).toBe(1);
    expect(revocationReasonCode('superseded')).toBe(4);
    expect(revocationReasonCode('cessationOfOperation')).toBe(5);
    expect(revocationReasonCode('affiliationChanged')).toBe(3);
    expect(revocationReasonCode('privilegeWithdrawn')).toBe(9);
    for (const [name, code] of Object.entries(REVOCATION_REASON_CODES))
      expect(revocationReasonFromCode(code)).toBe(name);
    expect(() => revocationReasonFromCode(7)).toThrow(InvalidPkiInputError);
    expect(isRevocationReason('keyCompromise')).toBe(true);
    expect(isRevocationReason('stolen')).toBe(false);
    expect(() => revocationReasonCode('stolen' as never)).toThrow(InvalidPkiInputError);
  });
});

describe('CRLs', () => {
  let h: Hierarchy;
  let revoked: Awaited<ReturnType<typeof issueDevice>>;
  let kept: Awaited<ReturnType<typeof issueDevice>>;
  let crl: Awaited<ReturnType<typeof buildCrl>>;
  let files: Awaited<ReturnType<typeof tempFiles>>;

  beforeAll(async () => {
    h = await makeHierarchy();
    revoked = await issueDevice(h, 'd-revoked');
    kept = await issueDevice(h, 'd-kept');
    crl = await buildCrl({
      issuer: h.issuingIssuer,
      thisUpdate: THIS_UPDATE,
      nextUpdate: NEXT_UPDATE,
      crlNumber: 7n,
      revoked: [
        { serialHex: revoked.cert.serialHex, revokedAt: new Date('2026-03-01T09:30:00Z'), reason: 'keyCompromise' },
        { serialHex: '00ABCDEF', revokedAt: new Date('2026-02-01T00:00:00Z'), reason: 'cessationOfOperation' },
        { serialHex: '0123', revokedAt: new Date('2026-02-02T00:00:00Z'), reason: 'unspecified' },
      ],
    });
    files = await tempFiles({
      'root.pem': h.root.pem,
      'issuing.pem': h.issuing.pem,
      'chain.pem': h.issuing.pem + h.root.pem,
      'crl.pem': crl.pem,
      'revoked.pem': revoked.cert.pem,
      'kept.pem': kept.cert.pem,
    });
  });
  afterAll(() => files.cleanup());

  describe('checked by openssl', () => {
    it('openssl crl -verify accepts the issuing CA signature', async () => {
      const r = await opensslVerifyCrl(crl.pem, files.path('issuing.pem'));
      expect(r.stderr).toMatch(/verify OK/);
      expect(r.code).toBe(0);
    });

    it('openssl crl -verify rejects it against the root (wrong signer)', async () => {
      const r = await opensslVerifyCrl(crl.pem, files.path('root.pem'));
      expect(r.stderr).not.toMatch(/verify OK/);
    });

    it('openssl crl -text shows v2, CRL number, AKI, entries and reasons', async () => {
      const { stdout } = await openssl(['crl', '-text', '-noout', '-in', files.path('crl.pem')]);
      expect(stdout).toMatch(/Version 2 \(0x1\)/);
      expect(stdout).toMatch(/Issuer: O = acme, CN = acme Issuing CA/);
      expect(stdout).toMatch(/Last Update: Mar {2}1 10:00:00 2026 GMT/);
      expect(stdout).toMatch(/Next Update: Mar {2}2 10:00:00 2026 GMT/);
      expect(stdout).toMatch(/X509v3 CRL Number: \s*\n\s+7\n/);
      expect(stdout).toMatch(/X509v3 Authority Key Identifier:/);
      expect(stdout).toContain(`Serial Number: ${revoked.cert.serialHex.toUpperCase()}`);
      expect(stdout).toMatch(
        /Serial Number: ABCDEF\s+Revocation Date: Feb {2}1 00:00:00 2026 GMT\s+CRL entry extensions:\s+X509v3 CRL Reason Code:\s+Cessation Of Operation/,
      );
      expect(stdout).toMatch(/Key Compromise/);
      // unspecified is expressed by omitting the reason (RFC 5280 5.3.1)
      expect(stdout).toMatch(
        /Serial Number: 0123\s+Revocation Date: Feb {2}2 00:00:00 2026 GMT\s*\n\s+Signature Algorithm/,
      );
    });

    it('openssl verify -crl_check rejects the revoked leaf and accepts the other', async () => {
      const args = (leaf: string) => [
        'verify',
        '-attime',
        epoch(AT),
        '-crl_check',
        '-CAfile',
        files.path('chain.pem'),
        '-CRLfile',
        files.path('crl.pem'),
        files.path(leaf),
      ];
      const bad = await openssl(args('revoked.pem'));
      expect(bad.code).not.toBe(0);
      expect(bad.stdout + bad.stderr).toMatch(/certificate revoked/);
      const good = await openssl(args('kept.pem'));
      expect(good.stdout.trim()).toBe(`${files.path('kept.pem')}: OK`);
      expect(good.code).toBe(0);
    });
  });

  describe('parsed by us', () => {
    it('reads number, dates, AKI and entries; looks serials up in any case', async () => {
      const parsed = parseCrl(crl.pem);
      expect(parsed.crlNumber).toBe(7n);
      expect(parsed.thisUpdate.toISOString()).toBe(THIS_UPDATE.toISOString());
      expect(parsed.nextUpdate?.toISOString()).toBe(NEXT_UPDATE.toISOString());
      expect(parsed.authorityKeyId).toBe(toHex(h.issuingIssuer.keyId));
      expect(isRevoked(parsed, revoked.cert.serialHex)).toBe(true);
      expect(isRevoked(parsed, revoked.cert.serialHex.toUpperCase())).toBe(true);
      expect(findRevocation(parsed, revoked.cert.serialHex)).toEqual({
        serialHex: revoked.cert.serialHex,
        revokedAt: new Date('2026-03-01T09:30:00Z'),
        reason: 'keyCompromise',
      });
      expect(findRevocation(parsed, 'abcdef')?.reason).toBe('cessationOfOperation');
      expect(findRevocation(parsed, '0123')?.reason).toBe('unspecified');
      expect(isRevoked(parsed, kept.cert.serialHex)).toBe(false);
      await expect(verifyCrl(parsed, h.issuingIssuer.certificate)).resolves.toBeUndefined();
    });

    it('refuses a CRL checked against the wrong CA or with a tampered body', async () => {
      const parsed = parseCrl(crl.der);
      await expect(verifyCrl(parsed, h.rootIssuer.certificate)).rejects.toBeInstanceOf(SignatureVerificationError);
      const der = crl.der.slice();
      const at = Buffer.from(der).indexOf(Buffer.from('260302100000Z')); // nextUpdate
      der[at + 5] = 0x39; // push nextUpdate out by weeks
      await expect(verifyCrl(parseCrl(der), h.issuingIssuer.certificate)).rejects.toThrow(/does not verify/);
    });

    it('makes our chain verification fail with REVOKED for the revoked leaf only', async () => {
      const parsed = parseCrl(crl.der);
      const req = { intermediates: [h.issuing.der], root: h.root.der, at: AT, crls: [parsed] };
      await expect(verifyChain({ ...req, leaf: kept.cert.der })).resolves.toBeDefined();
      const err = await verifyChain({ ...req, leaf: revoked.cert.der }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChainVerificationError);
      expect((err as ChainVerificationError).reason).toBe('REVOKED');
      expect((err as ChainVerificationError).context).toMatchObject({ revocationReason: 'keyCompromise' });
      // before the revocation instant it was still good
      await expect(
        verifyChain({ ...req, leaf: revoked.cert.der, at: new Date('2026-03-01T09:00:00Z') }),
      ).resolves.toBeDefined();
      // a CRL past nextUpdate is stale
      const stale = await verifyChain({ ...req, leaf: kept.cert.der, at: new Date('2026-03-03T00:00:00Z') }).catch(
        (e: unknown) => e,
      );
      expect((stale as ChainVerificationError).reason).toBe('STALE_CRL');
    });
  });

  describe('building', () => {
    it('an empty CRL has no revokedCertificates field and verifies in openssl', async () => {
      const empty = await buildCrl({
        issuer: h.issuingIssuer,
        thisUpdate: THIS_UPDATE,
        nextUpdate: NEXT_UPDATE,
        crlNumber: 1n,
        revoked: [],
      });
      expect(parseCrl(empty.der).entries.size).toBe(0);
      const r = await opensslVerifyCrl(empty.pem, files.path('issuing.pem'), '-text');
      expect(r.stderr).toMatch(/verify OK/);
      expect(r.stdout).toMatch(/No Revoked Certificates/);
    });

    it('a CRL of many entries (every reason, dates both sides of 2050, high-bit serials) reads back entry by entry and verifies in openssl', async () => {
      const reasons = Object.keys(REVOCATION_REASON_CODES).filter((r) => r !== 'removeFromCRL') as RevocationReason[];
      const entries = Array.from({ length: 300 }, (_, i) => ({
        serialHex: `${i % 2 ? '00' : ''}${(0x80 + i).toString(16).padStart(4, '0')}${i % 3 ? 'ff' : ''}`,
        revokedAt: new Date(Date.UTC(i % 4 ? 2026 : 2051, i % 12, 1 + (i % 28), i % 24, i % 60, i % 60, 999)),
        reason: reasons[i % reasons.length]!,
      }));
      const big = await buildCrl({
        issuer: h.issuingIssuer,
        thisUpdate: THIS_UPDATE,
        nextUpdate: NEXT_UPDATE,
        crlNumber: 9n,
        revoked: entries,
      });
      const parsed = parseCrl(big.pem);
      expect(parsed.entries.size).toBe(entries.length);
      for (const entry of entries)
        expect(findRevocation(parsed, entry.serialHex)).toEqual({
          serialHex: entry.serialHex.replace(/^(00)+/, ''),
          revokedAt: new Date(Math.floor(entry.revokedAt.getTime() / 1000) * 1000),
          reason: entry.reason,
        });
      await expect(verifyCrl(parsed, h.issuingIssuer.certificate)).resolves.toBeUndefined();
      const r = await opensslVerifyCrl(big.pem, files.path('issuing.pem'));
      expect(r.stderr).toMatch(/verify OK/);
    });

    it('known answer: the TBSCertList for fixed inputs is deterministic and pinned', () => {
      const req = {
        issuer: h.issuingIssuer,
        thisUpdate: THIS_UPDATE,
        nextUpdate: NEXT_UPDATE,
        crlNumber: 258n,
        revoked: [{ serialHex: '5a5a', revokedAt: T0, reason: 'superseded' as const }],
      };
      const tbs = toHex(crlTbs(req));
      expect(tbs).toBe(toHex(crlTbs(req)));
      expect(tbs).toBe(KAT_CRL_TBS_HEX);
    });

    it('the direct DER writer writes the bytes of the pkijs reference, whatever the entries', () => {
      const reasons = Object.keys(REVOCATION_REASON_CODES).filter((r) => r !== 'removeFromCRL');
      const entry = (): RevokedCertificateEntry => {
        const serial = randomBytes(randomInt(1, 21));
        if (randomInt(0, 3) === 0) serial[0] = 0; // a leading zero octet to strip
        if (randomInt(0, 3) === 0) serial[0]! |= 0x80; // needs the 0x00 sign octet
        return {
          serialHex: serial.toString('hex'),
          // Both time encodings: UTCTime before 2050, GeneralizedTime from 2050.
          revokedAt: new Date(Date.UTC(2000 + randomInt(0, 100), 0, 1) + randomInt(0, 365 * 86_400_000)),
          reason: reasons[randomInt(0, reasons.length)] as RevokedCertificateEntry['reason'],
        };
      };
      for (let i = 0; i < 50; i++) {
        const thisUpdate = new Date(THIS_UPDATE.getTime() + randomInt(0, 1_000_000) * 1_001);
        const req: CrlRequest = {
          issuer: i % 2 ? h.issuingIssuer : h.rootIssuer,
          thisUpdate,
          nextUpdate: new Date(thisUpdate.getTime() + randomInt(1_000, 1_000_000_000)),
          crlNumber: BigInt(`0x${randomBytes(randomInt(1, 20)).toString('hex')}`) >> BigInt(randomInt(0, 8)),
          revoked: i === 0 ? [] : Array.from({ length: randomInt(1, 300) }, entry),
        };
        const serials = new Set(req.revoked.map((e) => e.serialHex.replace(/^(00)+(?=..)/, '')));
        if (serials.size !== req.revoked.length) continue; // a random duplicate is refused by both
        expect(toHex(crlTbs(req))).toBe(toHex(crlTbsWithPkijs(req)));
      }
    });

    it('refuses bad requests', async () => {
      const base = {
        issuer: h.issuingIssuer,
        thisUpdate: THIS_UPDATE,
        nextUpdate: NEXT_UPDATE,
        crlNumber: 2n,
        revoked: [],
      };
      await expect(buildCrl({ ...base, nextUpdate: THIS_UPDATE })).rejects.toBeInstanceOf(InvalidPkiInputError);
      await expect(buildCrl({ ...base, crlNumber: -1n })).rejects.toBeInstanceOf(InvalidPkiInputError);
      await expect(buildCrl({ ...base, crlNumber: 3 as never })).rejects.toBeInstanceOf(InvalidPkiInputError);
      const dup = { serialHex: 'ab', revokedAt: T0, reason: 'superseded' as const };
      await expect(buildCrl({ ...base, revoked: [dup, { ...dup, serialHex: '00AB' }] })).rejects.toThrow(
        /listed twice/,
      );
      await expect(buildCrl({ ...base, revoked: [{ ...dup, serialHex: 'xyz' }] })).rejects.toBeInstanceOf(
        InvalidPkiInputError,
      );
      await expect(buildCrl({ ...base, revoked: [{ ...dup, reason: 'removeFromCRL' }] })).rejects.toThrow(/delta/);
      await expect(buildCrl({ ...base, revoked: [{ ...dup, reason: 'stolen' as never }] })).rejects.toBeInstanceOf(
        InvalidPkiInputError,
      );
    });
  });

  it('the leaf carries the distribution point the CA serves this CRL at', () => {
    expect(parseCertificate(revoked.cert.der).crlDistributionPoints?.urls).toEqual([
      'http://ca.tunnelkey.local/crl/acme.crl',
    ]);
  });
});

/** Pinned TBSCertList: issuing CA (fixed key), CRL number 258, serial 5a5a superseded at 2026-01-01. */
const KAT_CRL_TBS_HEX = [
  '3081af020101300a06082a8648ce3d0403023029310d300b060355040a0c0461636d653118301606035504030c0f6163',
  '6d652049737375696e67204341170d3236303330313130303030305a170d3236303330323130303030305a3023302102',
  '025a5a170d3236303130313030303030305a300c300a0603551d1504030a0104a030302e301f0603551d230418301680',
  '1442a0ff90bcb7d365e70f42e41aadbe7f547c6e9c300b0603551d14040402020102',
].join('');
