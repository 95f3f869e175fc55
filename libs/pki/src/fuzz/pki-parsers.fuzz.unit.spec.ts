// Fuzzing of the PKI parsers that face untrusted bytes: CSRs from devices, certificates and CRLs
// from events and brokers. `npm run fuzz` runs the same properties much longer (FUZZ_RUNS).
import fc from 'fast-check';
import { fuzz, mutated } from '@tunnelkey/testing';
import { MalformedPkiObjectError, PkiError } from '../errors.js';
import { createCsr } from '../csr/create-csr.js';
import { parseAndVerifyCsr, parseCsr, type ParsedCsr } from '../csr/parse-csr.js';
import { parseCertificate } from '../certificate/parse-certificate.js';
import { verifyChain } from '../certificate/verify-chain.js';
import { buildCrl } from '../crl/build-crl.js';
import { parseCrl, verifyCrl } from '../crl/parse-crl.js';
import { derToPem } from '../encoding/pem.js';
import { generateP256KeyPair, WebCryptoSigner } from '../signer/webcrypto-signer.js';
import { issueDevice, makeHierarchy, T0, type Hierarchy } from '../fixtures.test-helper.js';

const AT = new Date(T0.getTime() + 86_400_000);
const equalBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** Runs `parse`; a PkiError is a refusal, anything else thrown is a crash the property reports. */
function refusedOr<T>(parse: () => T): T | 'refused' {
  try {
    return parse();
  } catch (error) {
    if (error instanceof PkiError) return 'refused';
    throw error;
  }
}
async function refusedOrAsync<T>(parse: () => Promise<T>): Promise<T | 'refused'> {
  try {
    return await parse();
  } catch (error) {
    if (error instanceof PkiError) return 'refused';
    throw error;
  }
}

/** DER-ish bytes: a random tag and a length that may or may not match the content. */
const derShaped = fc
  .tuple(
    fc.constantFrom(0x30, 0x31, 0x02, 0x03, 0x04, 0x05, 0x06, 0xa0, 0xa3),
    fc.uint8Array({ maxLength: 300 }),
    fc.nat(4),
  )
  .map(([tag, content, lengthForm]) => {
    const n = content.length;
    const length =
      lengthForm === 0
        ? [n & 0x7f]
        : lengthForm === 1
          ? [0x81, n & 0xff]
          : lengthForm === 2
            ? [0x82, n >> 8, n & 0xff]
            : [0x84, 0xff, 0xff, 0xff, 0xff];
    return Uint8Array.from([tag, ...length, ...content]);
  });
const untrustedBytes = fc.oneof(fc.uint8Array({ maxLength: 2048 }), derShaped);
const untrustedText = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.uint8Array({ maxLength: 300 }).map((b) => derToPem(b, 'CERTIFICATE REQUEST')),
  fc.uint8Array({ maxLength: 300 }).map((b) => derToPem(b, 'CERTIFICATE').replace(/CERTIFICATE/g, 'X509 CRL')),
);

describe('fuzzing the PKI parsers', () => {
  let h: Hierarchy;
  let csr: ParsedCsr;
  let leafDer: Uint8Array;
  let leafTbs: Uint8Array;
  let crlDer: Uint8Array;
  let crlTbs: Uint8Array;

  beforeAll(async () => {
    h = await makeHierarchy();
    const pair = await generateP256KeyPair();
    const created = await createCsr({
      subjectCommonName: 'd-fuzz',
      publicKey: pair.publicKey,
      signer: await WebCryptoSigner.fromKeyPair(pair),
    });
    csr = parseCsr(created.der);
    const leaf = await issueDevice(h, 'd-fuzz');
    leafDer = leaf.cert.der;
    leafTbs = parseCertificate(leafDer).tbsDer;
    const crl = await buildCrl({
      issuer: h.issuingIssuer,
      thisUpdate: T0,
      nextUpdate: new Date(T0.getTime() + 7 * 86_400_000),
      crlNumber: 3n,
      revoked: [{ serialHex: '0A0B0C', revokedAt: T0, reason: 'keyCompromise' }],
    });
    crlDer = crl.der;
    crlTbs = crl.tbsDer;
  });

  it('CSR: arbitrary bytes and text are refused with a PKI error, never a crash', async () => {
    await fuzz(
      'csr: arbitrary input',
      fc.asyncProperty(fc.oneof(untrustedBytes, untrustedText), async (input) => {
        await refusedOrAsync(() => parseAndVerifyCsr(input));
      }),
    );
  });

  it('CSR: a mutated CSR is refused, or verifies only if the signed request is unchanged', async () => {
    await fuzz(
      'csr: mutations of a valid CSR',
      fc.asyncProperty(mutated(csr.der), async (bytes) => {
        const result = await refusedOrAsync(() => parseAndVerifyCsr(bytes));
        if (result === 'refused') return;
        expect(equalBytes(result.tbsDer, csr.tbsDer)).toBe(true);
        expect(equalBytes(result.spki, csr.spki)).toBe(true);
      }),
    );
  });

  it('certificate: arbitrary bytes and text are refused with a PKI error, never a crash', async () => {
    await fuzz(
      'certificate: arbitrary input',
      fc.property(fc.oneof(untrustedBytes, untrustedText), (input) => {
        refusedOr(() => parseCertificate(input));
      }),
    );
  });

  it('certificate: a mutated device certificate never chains to the root unless its signed part is unchanged', async () => {
    await fuzz(
      'certificate: mutations of a valid leaf',
      fc.asyncProperty(mutated(leafDer), async (bytes) => {
        const result = await refusedOrAsync(() =>
          verifyChain({ leaf: bytes, intermediates: [h.issuing.der], root: h.root.der, at: AT }),
        );
        if (result === 'refused') return;
        expect(equalBytes(parseCertificate(bytes).tbsDer, leafTbs)).toBe(true);
      }),
      { inSuite: 150 },
    );
  });

  it('CRL: arbitrary bytes and text are refused with a PKI error, never a crash', async () => {
    await fuzz(
      'crl: arbitrary input',
      fc.property(fc.oneof(untrustedBytes, untrustedText), (input) => {
        refusedOr(() => parseCrl(input));
      }),
    );
  });

  it('CRL: a mutated CRL never verifies under its issuer unless its signed part is unchanged', async () => {
    const issuer = parseCertificate(h.issuing.der);
    await fuzz(
      'crl: mutations of a valid CRL',
      fc.asyncProperty(mutated(crlDer), async (bytes) => {
        const result = await refusedOrAsync(async () => {
          const crl = parseCrl(bytes);
          await verifyCrl(crl, issuer);
          return crl;
        });
        if (result === 'refused') return;
        expect(equalBytes(result.tbsDer, crlTbs)).toBe(true);
      }),
      { inSuite: 150 },
    );
  });
});

describe('crashes found by fuzzing, kept as regular tests', () => {
  it('a malformed GeneralizedTime inside a CRL is a MalformedPkiObjectError, not asn1js plain Error', () => {
    // Shrunk from `crl: mutations of a valid CRL`: asn1js threw "Wrong input string for conversion".
    const badTime = Uint8Array.from([0x30, 0x06, 0x18, 0x04, 0x7a, 0x7a, 0x7a, 0x7a]);
    expect(() => parseCrl(badTime)).toThrow(MalformedPkiObjectError);
    expect(() => parseCertificate(badTime)).toThrow(MalformedPkiObjectError);
  });
});
