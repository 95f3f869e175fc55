import { randomBytes } from 'node:crypto';
import {
  CertificateMessage,
  CsrRequestMessage,
  IdentityChallengeMessage,
  deviceUplinkFilter,
  type DeviceBodyOf,
  type DeviceEnvelope,
} from '@tunnelkey/contracts';
import { generatePlatformKey } from '@tunnelkey/device-protocol';
import { parseAndVerifyCsr } from '@tunnelkey/pki';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { platformDouble, testCa, type PlatformDouble } from '../testing/platform-double.test-helper.js';
import { createFleet, type Fleet } from './create-fleet.js';

// Real NATS (NATS_URL or loopback), isolated by the fixture's namespace.
const nats = natsFixture();

describe('a fleet on the bus (real NATS)', () => {
  let platform: PlatformDouble;
  let fleet: Fleet;
  let namespace: string;
  const uplinks: { subject: string; data: Uint8Array; envelope: DeviceEnvelope }[] = [];
  const identities = new Map<string, Uint8Array>();
  const verified = async (kind: string) => {
    const out: DeviceEnvelope[] = [];
    for (const u of uplinks.filter((x) => x.envelope.kind === kind))
      out.push(await platform.verifyUplink(u.subject, u.data, identities.get(u.envelope.deviceId)!));
    return out;
  };

  beforeAll(async () => {
    await nats.setup();
    namespace = nats.subNamespace();
    platform = await platformDouble({ namespace });
    nats.nc.subscribe(deviceUplinkFilter(undefined, namespace), {
      callback: (_e, msg) =>
        void uplinks.push({ subject: msg.subject, data: msg.data.slice(), envelope: msg.json<DeviceEnvelope>() }),
    });
    fleet = await createFleet({
      nats: nats.nc,
      namespace,
      size: 20,
      seedBase: `int/${namespace}`,
      platformPublicKey: platform.key.publicKeySpki,
      faults: { offline: 0.1, tampered: 2, tamperMode: 'helper-data' },
      concurrency: 4,
    });
    for (const row of JSON.parse(fleet.identityFile('json')) as { deviceId: string; enrolmentPublicKey: string }[]) {
      identities.set(row.deviceId, Buffer.from(row.enrolmentPublicKey, 'base64'));
    }
  });
  afterAll(async () => {
    await fleet?.stop();
    await nats.teardown();
  });

  it('announces: every healthy online device, signed by the key in the identity file', async () => {
    expect(await fleet.announce()).toEqual({ announced: 16, offline: 2, failed: 2 });
    await waitFor(() => uplinks.filter((u) => u.envelope.kind === 'announce').length === 16, {
      description: '16 announces',
    });
    expect(await verified('announce')).toHaveLength(16);
  });

  it('answers identity challenges through one wildcard subscription; offline and tampered devices stay silent', async () => {
    const challenges = new Map<string, string>();
    for (const device of fleet.devices()) {
      const body = {
        challengeId: `ch-${device.deviceId.slice(2, 10)}`,
        nonce: randomBytes(16).toString('base64'),
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      };
      challenges.set(device.deviceId, body.nonce);
      const d = await platform.downlink(IdentityChallengeMessage, device.deviceId, body);
      nats.nc.publish(d.subject, d.data);
    }
    await waitFor(() => uplinks.filter((u) => u.envelope.kind === 'identity-response').length === 16, {
      description: '16 identity responses',
    });
    await fleet.idle();
    const responses = await verified('identity-response');
    for (const r of responses) expect((r.body as { nonce: string }).nonce).toBe(challenges.get(r.deviceId));
    const silent = [...fleet.devices()].filter((d) => !responses.some((r) => r.deviceId === d.deviceId));
    expect(silent.map((d) => fleet.faultOf(d.deviceId)).sort()).toEqual([
      'offline',
      'offline',
      'tampered-helper-data',
      'tampered-helper-data',
    ]);
    const stats = fleet.stats();
    expect(stats.byState['identity-proven']).toBe(16);
    expect(stats.messages.offlineDrops).toBe(2);
    expect(stats.messages.keyFailures).toBeGreaterThanOrEqual(2);
  });

  it('refuses a forged challenge and ignores unknown devices, answering neither', async () => {
    const target = [...fleet.devices()].find((d) => d.state === 'identity-proven')!;
    const forger = await generatePlatformKey();
    const before = uplinks.length;
    const forged = await platform.downlink(
      IdentityChallengeMessage,
      target.deviceId,
      {
        challengeId: 'ch-forged',
        nonce: randomBytes(16).toString('base64'),
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      },
      { privateKey: forger.key.privateKey },
    );
    nats.nc.publish(forged.subject, forged.data);
    nats.nc.publish(`${namespace}.dev.d-nobodyhere.inbox.identity-challenge`, forged.data);
    await waitFor(
      () => fleet.stats().refusedByCode['bad-signature'] === 1 && fleet.stats().messages.unknownDevice === 1,
      { description: 'refusal counted' },
    );
    await nats.nc.flush();
    expect(uplinks.length).toBe(before);
  });

  it('gets devices certified: csr-request -> CSR -> certificate stored', async () => {
    const ca = await testCa();
    const targets = [...fleet.devices()].filter((d) => d.state === 'identity-proven').slice(0, 5);
    for (const device of targets) {
      const d = await platform.downlink(CsrRequestMessage, device.deviceId, {
        requestId: `rq-${device.deviceId.slice(2, 12)}`,
        keyId: 'tls-0',
      });
      nats.nc.publish(d.subject, d.data);
    }
    await waitFor(() => uplinks.filter((u) => u.envelope.kind === 'csr').length === 5, { description: '5 CSRs' });
    for (const csrMessage of await verified('csr')) {
      const body = csrMessage.body as DeviceBodyOf<typeof import('@tunnelkey/contracts').CsrMessage>;
      const csr = await parseAndVerifyCsr(Buffer.from(body.csr, 'base64'));
      expect(csr.subjectCommonName).toBe(csrMessage.deviceId);
      const cert = await ca.issue(csrMessage.deviceId, csr.spki);
      const d = await platform.downlink(CertificateMessage, csrMessage.deviceId, {
        requestId: body.requestId,
        serialNumber: cert.serialHex,
        certificatePem: cert.pem,
        chainPem: [ca.issuing.pem, ca.root.pem],
      });
      nats.nc.publish(d.subject, d.data);
    }
    await waitFor(() => fleet.stats().byState.certified === 5, { description: '5 certified' });
    for (const device of targets)
      expect(device.flash.certificates['tls-0']?.certificatePem).toContain('BEGIN CERTIFICATE');
  });
});
