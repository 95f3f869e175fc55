import { webcrypto } from 'node:crypto';
import { jest } from '@jest/globals';
import {
  CertificateMessage,
  CsrRequestMessage,
  IdentityChallengeMessage,
  type DeviceBodyOf,
} from '@tunnelkey/contracts';
import { parseAndVerifyCsr } from '@tunnelkey/pki';
import { ENROLMENT_CONTEXT, PufDevice, parseHelperData, tlsContext } from '@tunnelkey/puf';
// Test-only path to the secrets we search for: the library never exports them, on purpose.
// eslint-disable-next-line no-restricted-imports, @nx/enforce-module-boundaries
import { recoverRootSecret } from '../../../../libs/puf/src/extractor/fuzzy-extractor.js';
// eslint-disable-next-line no-restricted-imports, @nx/enforce-module-boundaries
import { deriveContextSecret, p256ScalarFromSecret } from '../../../../libs/puf/src/keys/p256-key-derivation.js';
import { FlashRecordFormatError } from '../errors.js';
import { memoryTransport, platformDouble, testCa } from '../testing/platform-double.test-helper.js';
import { flashToJson, parseFlash, serialiseFlash } from './device-flash.js';
import { SimulatedDevice } from './simulated-device.js';

/** Every encoding a secret could hide in, whole and in 8-byte fragments. */
function expectAbsent(haystack: Buffer, needle: Buffer, what: string): void {
  const forms = [
    needle,
    Buffer.from(needle.toString('hex')),
    Buffer.from(needle.toString('hex').toUpperCase()),
    Buffer.from(needle.toString('base64')),
    Buffer.from(needle.toString('base64url')),
  ];
  for (const form of forms) expect({ what, found: haystack.indexOf(form) }).toEqual({ what, found: -1 });
  for (let i = 0; i + 8 <= needle.length; i += 4)
    expect({ what, fragment: i, found: haystack.indexOf(needle.subarray(i, i + 8)) }).toEqual({
      what,
      fragment: i,
      found: -1,
    });
}

describe("a device's flash record", () => {
  const seed = 'flash-spec/1';

  it('holds no private key, root secret or context secret, even after a full provisioning exchange', async () => {
    // Capture the private scalar `d` WebCrypto is handed whenever the device derives a key.
    const importedScalars: Buffer[] = [];
    const importKey = webcrypto.subtle.importKey.bind(webcrypto.subtle);
    const spy = jest.spyOn(webcrypto.subtle, 'importKey').mockImplementation(((
      format: string,
      keyData: unknown,
      ...rest: unknown[]
    ) => {
      if (format === 'jwk' && typeof (keyData as webcrypto.JsonWebKey).d === 'string')
        importedScalars.push(Buffer.from((keyData as webcrypto.JsonWebKey).d!, 'base64url'));
      return (importKey as (...a: unknown[]) => Promise<webcrypto.CryptoKey>)(format, keyData, ...rest);
    }) as typeof webcrypto.subtle.importKey);
    try {
      const platform = await platformDouble();
      const transport = memoryTransport();
      const device = await SimulatedDevice.manufacture({ seed, transport, platformKey: platform.pinned });
      // Exercise everything that touches keys: announce, challenge, CSR for tls-0, certificate.
      await device.announce();
      const challenge = await platform.downlink(IdentityChallengeMessage, device.deviceId, {
        challengeId: 'c-1',
        nonce: 'AAECAwQFBgcICQoLDA0ODw==',
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      });
      await device.receive(challenge.subject, challenge.data);
      const request = await platform.downlink(CsrRequestMessage, device.deviceId, { requestId: 'r-1', keyId: 'tls-0' });
      await device.receive(request.subject, request.data);
      const csrBody = transport.sent.at(-1)!.envelope.body as { csr: string };
      const ca = await testCa();
      const cert = await ca.issue(device.deviceId, (await parseAndVerifyCsr(Buffer.from(csrBody.csr, 'base64'))).spki);
      const delivery = await platform.downlink(CertificateMessage, device.deviceId, {
        requestId: 'r-1',
        serialNumber: cert.serialHex,
        certificatePem: cert.pem,
        chainPem: [ca.issuing.pem, ca.root.pem],
      } satisfies DeviceBodyOf<typeof CertificateMessage>);
      expect(await device.receive(delivery.subject, delivery.data)).toBe('handled');

      const bytes = Buffer.from(serialiseFlash(device.flash));
      const json = Buffer.from(flashToJson(device.flash));
      const inMemory = Buffer.concat([
        Buffer.from(device.flash.helperData),
        Buffer.from(device.flash.enrolmentPublicKey),
      ]);

      // The secrets, rebuilt independently from the same silicon through the library internals.
      const silicon = PufDevice.manufacture({ seed });
      const root = Buffer.from(recoverRootSecret(silicon.readResponse(), parseHelperData(device.flash.helperData)));
      const needles: [string, Buffer][] = [['root secret', root]];
      for (const context of [ENROLMENT_CONTEXT, tlsContext(0)]) {
        const secret = Buffer.from(deriveContextSecret(root, context));
        needles.push(
          [`${context.purpose} context secret`, secret],
          [`${context.purpose} private scalar`, p256ScalarFromSecret(secret)],
        );
      }
      // The scalars the device really handed to WebCrypto must be those we rebuilt: the search is aimed right.
      expect(importedScalars.length).toBeGreaterThanOrEqual(4);
      const expectedScalars = new Set(needles.filter(([w]) => w.includes('scalar')).map(([, b]) => b.toString('hex')));
      expect(importedScalars.filter((d) => expectedScalars.has(d.toString('hex'))).length).toBeGreaterThanOrEqual(4);
      // Every scalar WebCrypto saw in this run (device keys, and the test's platform/CA keys) is searched too.
      for (const d of importedScalars) needles.push(['JWK d seen by WebCrypto', d]);

      for (const [what, needle] of needles) {
        expect(needle.length).toBe(32);
        for (const haystack of [bytes, json, inMemory]) expectAbsent(haystack, needle, what);
      }
      // Negative control: a scalar smuggled into the record (base64, inside JSON) is found.
      const [, scalar] = needles.find(([w]) => w.includes('scalar'))!;
      const leaky = Buffer.from(
        flashToJson({ ...device.flash, connections: { x: { clientId: scalar.toString('base64') } as never } }),
      );
      expect(() => expectAbsent(leaky, scalar, 'control')).toThrow();
      // The search can succeed: what is stored is found (public key, certificate).
      expect(bytes.indexOf(Buffer.from(device.flash.enrolmentPublicKey).toString('base64'))).toBeGreaterThan(0);
      expect(bytes.indexOf(JSON.stringify(cert.pem).slice(1, 40))).toBeGreaterThan(0);
      expect(Object.keys(JSON.parse(json.toString()) as object).sort()).toEqual([
        'certificates',
        'connections',
        'deviceId',
        'enrolmentPublicKey',
        'firmware',
        'formatVersion',
        'helperData',
        'lastDownlinkCounter',
        'pendingCsrs',
        'product',
        'pufProfile',
        'uplinkCounter',
      ]);
    } finally {
      spy.mockRestore();
    }
  });

  it('round-trips, and refuses a record it does not understand', async () => {
    const device = await SimulatedDevice.manufacture({ seed, transport: memoryTransport() });
    const parsed = parseFlash(serialiseFlash(device.flash));
    expect(parsed).toEqual(device.flash);
    expect(() => parseFlash('{')).toThrow(FlashRecordFormatError);
    expect(() => parseFlash(JSON.stringify({ ...JSON.parse(flashToJson(device.flash)), formatVersion: 2 }))).toThrow(
      FlashRecordFormatError,
    );
    expect(() => parseFlash(JSON.stringify({ ...JSON.parse(flashToJson(device.flash)), uplinkCounter: -1 }))).toThrow(
      /uplinkCounter/,
    );
  });
});
