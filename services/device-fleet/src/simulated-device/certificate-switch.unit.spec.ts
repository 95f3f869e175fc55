/**
 * The device's side of a renewal: a CSR for its next TLS key (attested by its enrolment key), the
 * new certificate kept beside the old one, connection parameters whose client certificate names the
 * new key, and a signed report once it connected with it.
 */
import {
  CertificateMessage,
  CertificateSwitchedMessage,
  ConnectionParametersMessage,
  CsrRequestMessage,
  type DeviceBodyOf,
} from '@tunnelkey/contracts';
import { generateP256KeyPair, parseAndVerifyCsr } from '@tunnelkey/pki';
import {
  memoryTransport,
  platformDouble,
  testCa,
  type PlatformDouble,
  type TestCa,
} from '../testing/platform-double.test-helper.js';
import { keyIdCertifiedBy } from './certificate-switch.js';
import { SimulatedDevice } from './simulated-device.js';

type Csr = DeviceBodyOf<typeof import('@tunnelkey/contracts').CsrMessage>;

describe('a device renewing its TLS certificate', () => {
  let platform: PlatformDouble;
  let ca: TestCa;
  let transport: ReturnType<typeof memoryTransport>;
  let device: SimulatedDevice;

  beforeAll(async () => {
    platform = await platformDouble();
    ca = await testCa();
  });
  beforeEach(async () => {
    transport = memoryTransport();
    device = await SimulatedDevice.manufacture({ seed: 'renewal-spec', transport, platformKey: platform.pinned });
  });

  /** The platform asks for a CSR for `keyId` and delivers the certificate the test CA issues for it. */
  const certify = async (keyId: 'tls-0' | 'tls-1', requestId: string) => {
    const ask = await platform.downlink(CsrRequestMessage, device.deviceId, { requestId, keyId });
    expect(await device.receive(ask.subject, ask.data)).toBe('handled');
    const csr = transport.sent.at(-1)!.envelope.body as Csr;
    expect(csr.keyAttestation?.keyId).toBe(keyId);
    const certificate = await ca.issue(device.deviceId, (await parseAndVerifyCsr(Buffer.from(csr.csr, 'base64'))).spki);
    const delivered = await platform.downlink(CertificateMessage, device.deviceId, {
      requestId,
      serialNumber: certificate.serialHex,
      certificatePem: certificate.pem,
      chainPem: [ca.issuing.pem, ca.root.pem],
    });
    expect(await device.receive(delivered.subject, delivered.data)).toBe('handled');
    return certificate;
  };
  const parameters = async (clientCertificatePem: string) => {
    const sent = await platform.downlink(ConnectionParametersMessage, device.deviceId, {
      targetId: 'broker-a',
      endpoint: { protocol: 'mqtts', host: 'broker.local', port: 8883 },
      clientId: device.deviceId,
      topicPrefix: `fridges/${device.deviceId}`,
      clientCertificatePem,
    });
    expect(await device.receive(sent.subject, sent.data)).toBe('handled');
  };

  it('keeps both certificates, connects with the key its new target certificate names, and reports the switch signed', async () => {
    const first = await certify('tls-0', 'r-first');
    await parameters(first.pem);
    expect(device.flash.connections['broker-a']?.keyId).toBe('tls-0');

    const renewed = await certify('tls-1', 'r-renewal');
    expect(Object.keys(device.flash.certificates).sort()).toEqual(['tls-0', 'tls-1']);
    // Keys of two generations differ: the old one stays derivable until the switch.
    const spkis = await device.withKeys(['tls-0', 'tls-1'], async (keys) =>
      ['tls-0', 'tls-1'].map((k) => Buffer.from(keys.get(k as 'tls-0')!.publicKeySpki).toString('hex')),
    );
    expect(spkis[0]).not.toBe(spkis[1]);

    await parameters(renewed.pem);
    expect(device.flash.connections['broker-a']?.keyId).toBe('tls-1');

    expect(await device.reportCertificateSwitch('broker-a', 'tls-1')).toBe(true);
    const report = transport.sent.at(-1)!;
    expect(report.subject).toBe(CertificateSwitchedMessage.subject(device.deviceId));
    const verified = await platform.verifyUplink(report.subject, report.data, device.enrolmentPublicKey);
    expect(verified.body).toEqual({ requestId: 'r-renewal', serialNumber: renewed.serialHex, targetId: 'broker-a' });
  });

  it('names no key for a certificate of a key it does not hold, and reports nothing without a certificate', async () => {
    const first = await certify('tls-0', 'r-first');
    const strangerKey = await generateP256KeyPair();
    const strangerSpki = new Uint8Array(await crypto.subtle.exportKey('spki', strangerKey.publicKey));
    const stranger = await ca.issue(device.deviceId, strangerSpki);
    expect(keyIdCertifiedBy(device.flash, first.pem)).toBe('tls-0');
    expect(keyIdCertifiedBy(device.flash, stranger.pem)).toBeUndefined();
    expect(keyIdCertifiedBy(device.flash, 'not a certificate')).toBeUndefined();
    const sent = transport.sent.length;
    expect(await device.reportCertificateSwitch('broker-a', 'tls-5')).toBe(false);
    expect(transport.sent).toHaveLength(sent);
  });
});
