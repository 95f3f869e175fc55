/**
 * The PKCS#11 signer against a real SoftHSM token, initialised in a temp dir for this run: an
 * issuing CA key generated in the token signs a device certificate, which libs/pki and
 * `openssl verify` both accept; the token refuses to hand out the private key.
 *
 * Needs softhsm2 (Debian package; .ci/run installs it). Without it, and only outside CI, the
 * tests are skipped with a message; in CI they must run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildIssuingCaCertificate } from '../certificate/issuing-ca.js';
import { buildRootCaCertificate } from '../certificate/root-ca.js';
import { loadIssuer } from '../certificate/issuer.js';
import { buildDeviceCertificate } from '../certificate/device-certificate.js';
import { verifyChain } from '../certificate/verify-chain.js';
import { SignerError } from '../errors.js';
import { openssl, tempFiles } from '../openssl.test-helper.js';
import { generateP256KeyPair, WebCryptoSigner } from './webcrypto-signer.js';
import { DEFAULT_PKCS11_MODULE, loadPkcs11Options, Pkcs11Token } from './pkcs11-signer.js';

const softhsmUtil = ['/usr/bin/softhsm2-util', '/usr/local/bin/softhsm2-util'].find((p) => existsSync(p));
const module = process.env.PKCS11_MODULE ?? DEFAULT_PKCS11_MODULE;
const available = softhsmUtil !== undefined && existsSync(module);
if (!available && process.env.CI) {
  throw new Error(`SoftHSM is missing in CI (softhsm2-util, ${module}): .ci/run installs softhsm2`);
}
if (!available) {
  console.warn(`SKIPPED: PKCS#11 signer tests need SoftHSM (apt-get install softhsm2 opensc); ${module} not found`);
}
const describeToken = available ? describe : describe.skip;

const day = 86_400_000;

describeToken('PKCS#11 signer on a SoftHSM token', () => {
  let ownDir: string | undefined;
  let secrets: string | undefined;
  let pinFile: string;
  let token: Pkcs11Token;
  const tokenLabel = `tk-test-${process.pid}`;
  const pin = '4711-pin';
  const softhsm = (args: string[]) => execFileSync(softhsmUtil!, args, { env: { ...process.env }, stdio: 'pipe' });

  beforeAll(async () => {
    // jest.config.js points SOFTHSM2_CONF at this run's own temp path (the native library reads
    // the real environment, which a test file cannot change); a configuration already there is
    // someone's own and is used as it is, with a token of this run's label, deleted afterwards.
    const conf = process.env.SOFTHSM2_CONF;
    if (!conf) throw new Error('SOFTHSM2_CONF is not set (jest.config.js sets it)');
    if (!existsSync(conf)) {
      ownDir = dirname(conf);
      await mkdir(join(ownDir, 'tokens'), { recursive: true });
      await writeFile(
        conf,
        `directories.tokendir = ${join(ownDir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`,
      );
    }
    softhsm(['--init-token', '--free', '--label', tokenLabel, '--so-pin', '0000-so', '--pin', pin]);
    secrets = await mkdtemp(join(tmpdir(), 'tunnelkey-pkcs11-pin-'));
    pinFile = join(secrets, 'pin');
    await writeFile(pinFile, `${pin}\n`, { mode: 0o600 });
    const options = await loadPkcs11Options({
      env: { PKCS11_MODULE: module, PKCS11_TOKEN_LABEL: tokenLabel, PKCS11_PIN_FILE: pinFile },
      readFile: (path) => readFile(path),
    });
    token = await Pkcs11Token.open(options);
  });

  afterAll(async () => {
    await token?.close();
    if (secrets) await rm(secrets, { recursive: true, force: true });
    if (ownDir) await rm(ownDir, { recursive: true, force: true });
    else softhsm(['--delete-token', '--token', tokenLabel]);
  });

  it('signs a device certificate with an issuing CA key generated in the token; libs/pki and openssl verify it', async () => {
    const now = Date.now();
    const rootSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
    const root = await buildRootCaCertificate({
      subject: { commonName: 'tunnelkey Root CA', organization: 'tunnelkey' },
      signer: rootSigner,
      notBefore: new Date(now - day),
      notAfter: new Date(now + 365 * day),
    });
    const hsmSigner = await token.generateKey('issuing-acme');
    const issuingCert = await buildIssuingCaCertificate({
      subject: { commonName: 'tunnelkey Issuing CA acme', organization: 'tunnelkey' },
      publicKeySpki: hsmSigner.publicKeySpki,
      issuer: loadIssuer({ certificate: root.der, signer: rootSigner }),
      notBefore: new Date(now - day),
      notAfter: new Date(now + 300 * day),
    });
    // A second handle on the same key, found by its label, signs as well (what a restart does).
    const reopened = await token.signer('issuing-acme');
    expect(Buffer.from(reopened.publicKeySpki).equals(Buffer.from(hsmSigner.publicKeySpki))).toBe(true);
    const issuing = loadIssuer({ certificate: issuingCert.der, signer: reopened });
    const device = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
    const leaf = await buildDeviceCertificate({
      deviceId: 'd-hsm-0001',
      publicKeySpki: device.publicKeySpki,
      issuer: issuing,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 30 * day),
      crlDistributionPointUrl: 'http://127.0.0.1/crl/issuing-acme.crl',
    });

    const verified = await verifyChain({
      leaf: leaf.der,
      intermediates: [issuingCert.der],
      root: root.der,
      at: new Date(now),
      purpose: 'clientAuth',
    });
    expect(verified.chain.map((c) => c.subjectCommonName)).toEqual([
      'd-hsm-0001',
      'tunnelkey Issuing CA acme',
      'tunnelkey Root CA',
    ]);

    const files = await tempFiles({ 'root.pem': root.pem, 'issuing.pem': issuingCert.pem, 'leaf.pem': leaf.pem });
    try {
      const result = await openssl([
        'verify',
        '-CAfile',
        files.path('root.pem'),
        '-untrusted',
        files.path('issuing.pem'),
        '-purpose',
        'sslclient',
        files.path('leaf.pem'),
      ]);
      expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining('leaf.pem: OK') });
    } finally {
      await files.cleanup();
    }
  });

  it('keeps the private key in the token: sensitive, never extractable, CKA_VALUE refused', async () => {
    await token.generateKey('issuing-kept');
    expect(await token.privateKeyAttributes('issuing-kept')).toEqual({
      sensitive: true,
      extractable: false,
      neverExtractable: true,
    });
    expect(await token.tryReadPrivateValue('issuing-kept')).toEqual({
      refused: true,
      code: 'CKR_ATTRIBUTE_SENSITIVE',
    });
  });

  it('refuses a second key under a label in use, and a signer for a label it does not hold', async () => {
    await token.generateKey('issuing-once');
    await expect(token.generateKey('issuing-once')).rejects.toThrow(SignerError);
    await expect(token.signer('issuing-nobody')).rejects.toThrow('no key pair with this label in the token');
  });

  it('refuses a wrong PIN without naming it, and a PIN given in the environment (runs last: closes the token)', async () => {
    // Login is per token and process: the session of the tests above logs out first.
    await token.close();
    const wrong = 'not-the-pin-9';
    const error = await Pkcs11Token.open({ module, tokenLabel, pin: wrong }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignerError);
    expect((error as Error).message).toContain('CKR_PIN_INCORRECT');
    expect(JSON.stringify(error) + String((error as Error).message)).not.toContain(wrong);
    await expect(
      loadPkcs11Options({
        env: { PKCS11_TOKEN_LABEL: tokenLabel, PKCS11_PIN_FILE: pinFile, PKCS11_PIN: pin },
        readFile: () => pin,
      }),
    ).rejects.toThrow('PKCS11_PIN is not read');
  });
});
