/**
 * Test double for the platform side of the device protocol: a generated platform key that signs
 * downlinks (counters per device, as the real services will), verifies uplinks with the enrolled
 * keys, and a small CA to issue certificates for CSRs. Tests cannot use the registry/CA services.
 */
import { type DeviceBodyOf, type DeviceEnvelope, type DeviceMessageDefinition } from '@tunnelkey/contracts';
import {
  DeviceMessageVerifier,
  EnvelopeSigner,
  ReplayGuard,
  generatePlatformKey,
  importVerifyKey,
  type PlatformKey,
} from '@tunnelkey/device-protocol';
import {
  buildDeviceCertificate,
  buildIssuingCaCertificate,
  buildRootCaCertificate,
  generateP256KeyPair,
  loadIssuer,
  WebCryptoSigner,
  type CertificateIssuer,
  type IssuedCertificate,
} from '@tunnelkey/pki';
import type { PinnedPlatformKey } from '../simulated-device/pinned-platform-key.js';

export interface Downlink {
  subject: string;
  data: Uint8Array;
  envelope: DeviceEnvelope;
}

export interface PlatformDouble {
  key: PlatformKey;
  pinned: PinnedPlatformKey;
  /** Signs a downlink for a device with the platform key (or another key, to forge one). */
  downlink<M extends DeviceMessageDefinition>(
    definition: M,
    deviceId: string,
    body: DeviceBodyOf<M>,
    options?: { clock?: () => Date; privateKey?: PlatformKey['privateKey']; keyId?: string },
  ): Promise<Downlink>;
  /** Verifies an uplink the way the platform must: subject, enrolled key, signature, counter. */
  verifyUplink(subject: string, data: Uint8Array, enrolmentPublicKey: Uint8Array): Promise<DeviceEnvelope>;
}

export async function platformDouble(
  options: { namespace?: string; clock?: () => Date } = {},
): Promise<PlatformDouble> {
  const namespace = options.namespace ?? '';
  const { key } = await generatePlatformKey('platform-1');
  const signers = new Map<string, EnvelopeSigner>();
  const guards = new Map<string, ReplayGuard>();
  return {
    key,
    pinned: { keyId: key.keyId, publicKey: key.publicKey },
    async downlink(definition, deviceId, body, opts = {}) {
      let signer = signers.get(deviceId);
      if (!signer) {
        signer = new EnvelopeSigner(deviceId, 0, options.clock);
        signers.set(deviceId, signer);
      }
      // A per-call clock (stale messages) needs its own signer sharing the counter.
      const used = opts.clock ? new EnvelopeSigner(deviceId, signer.lastCounter, opts.clock) : signer;
      const envelope = await used.sign(definition, body, {
        keyId: opts.keyId ?? key.keyId,
        privateKey: opts.privateKey ?? key.privateKey,
      });
      if (used !== signer) signers.set(deviceId, new EnvelopeSigner(deviceId, used.lastCounter, options.clock));
      const subject = definition.subject(deviceId, namespace);
      return { subject, data: new TextEncoder().encode(JSON.stringify(envelope)), envelope };
    },
    async verifyUplink(subject, data, enrolmentPublicKey) {
      const publicKey = await importVerifyKey(enrolmentPublicKey);
      const deviceId = JSON.parse(new TextDecoder().decode(data)).deviceId as string;
      let replayGuard = guards.get(deviceId);
      if (!replayGuard) {
        replayGuard = new ReplayGuard();
        guards.set(deviceId, replayGuard);
      }
      const verifier = new DeviceMessageVerifier({
        direction: 'uplink',
        namespace,
        replayGuard,
        ...(options.clock ? { clock: options.clock } : {}),
        resolveKey: async (envelope) => (envelope.keyId === 'enrolment' ? publicKey : null),
      });
      return verifier.verify(subject, data);
    },
  };
}

export interface TestCa {
  root: IssuedCertificate;
  issuing: IssuedCertificate;
  issuer: CertificateIssuer;
  issue(deviceId: string, publicKeySpki: Uint8Array): Promise<IssuedCertificate>;
}

/** A throwaway root + issuing CA, valid around `now`. */
export async function testCa(now = new Date()): Promise<TestCa> {
  const day = 86_400_000;
  const rootSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const issuingSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const notBefore = new Date(now.getTime() - day);
  const root = await buildRootCaCertificate({
    subject: { commonName: 'test Root CA', organization: 'tunnelkey' },
    signer: rootSigner,
    notBefore,
    notAfter: new Date(now.getTime() + 3650 * day),
  });
  const issuing = await buildIssuingCaCertificate({
    subject: { commonName: 'test Issuing CA', organization: 'tunnelkey' },
    publicKeySpki: issuingSigner.publicKeySpki,
    issuer: loadIssuer({ certificate: root.der, signer: rootSigner }),
    notBefore,
    notAfter: new Date(now.getTime() + 1825 * day),
  });
  const issuer = loadIssuer({ certificate: issuing.der, signer: issuingSigner });
  return {
    root,
    issuing,
    issuer,
    issue: (deviceId, publicKeySpki) =>
      buildDeviceCertificate({
        deviceId,
        publicKeySpki,
        issuer,
        notBefore,
        notAfter: new Date(now.getTime() + 365 * day),
        crlDistributionPointUrl: 'http://ca.tunnelkey.test/crl/test.crl',
      }),
  };
}

/** Collects what a device publishes. */
export function memoryTransport() {
  const sent: { subject: string; data: Uint8Array; envelope: DeviceEnvelope }[] = [];
  return {
    sent,
    publish(subject: string, data: Uint8Array) {
      sent.push({ subject, data, envelope: JSON.parse(new TextDecoder().decode(data)) as DeviceEnvelope });
    },
  };
}
