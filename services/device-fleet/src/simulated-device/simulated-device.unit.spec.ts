import { createHash, randomBytes } from 'node:crypto';
import {
  AnnounceMessage,
  CertificateMessage,
  ConnectionParametersMessage,
  CsrRequestMessage,
  EnrolmentKeyRequestMessage,
  FirmwareKeysRequestMessage,
  IdentityChallengeMessage,
  RejectionMessage,
  keyAttestationBytes,
  type DeviceBodyOf,
  type DeviceEnvelope,
  type FirmwareKeysMessage,
} from '@tunnelkey/contracts';
import {
  bytesSignatureValid,
  custodySignatureValid,
  generatePlatformKey,
  importVerifyKey,
} from '@tunnelkey/device-protocol';
import { encryptionKeysAttestationValid } from '@tunnelkey/firmware';
import { parseAndVerifyCsr, spkiEqual } from '@tunnelkey/pki';
import { KeyCheckMismatchError, PufDevice, deriveKeysFromRead, isPufError, type KeyContext } from '@tunnelkey/puf';
import type { DeviceHardware } from '../hardware/device-hardware-pool.js';
import { DeviceKeyUnavailableError } from '../errors.js';
import {
  memoryTransport,
  platformDouble,
  testCa,
  type PlatformDouble,
} from '../testing/platform-double.test-helper.js';
import { parseFlash, serialiseFlash } from './device-flash.js';
import { firmwareMeasurement } from './firmware-image.js';
import { SimulatedDevice } from './simulated-device.js';

const nonce = () => randomBytes(16).toString('base64');
const inAMinute = () => new Date(Date.now() + 60_000).toISOString();
type Csr = DeviceBodyOf<typeof import('@tunnelkey/contracts').CsrMessage>;

describe('simulated device firmware', () => {
  let platform: PlatformDouble;
  let transport: ReturnType<typeof memoryTransport>;
  let device: SimulatedDevice;
  let seq = 0;

  const make = async (overrides: Partial<Parameters<typeof SimulatedDevice.manufacture>[0]> = {}) =>
    SimulatedDevice.manufacture({
      seed: `device-spec/${seq++}`,
      transport,
      platformKey: platform.pinned,
      ...overrides,
    });
  const challenge = (target = device, body = { challengeId: 'ch-1', nonce: nonce(), expiresAt: inAMinute() }) =>
    platform.downlink(IdentityChallengeMessage, target.deviceId, body);

  beforeAll(async () => {
    platform = await platformDouble();
  });
  beforeEach(async () => {
    transport = memoryTransport();
    device = await make();
  });

  describe('when enrolled', () => {
    it('reports its identity: id = digest of the enrolment key, announced and signed by that key', async () => {
      expect(device.deviceId).toMatch(/^d-[a-z2-7]{32}$/);
      expect(device.state).toBe('enrolled');
      expect(await device.announce()).toBe(true);
      const [sent] = transport.sent;
      const verified = await platform.verifyUplink(sent!.subject, sent!.data, device.enrolmentPublicKey);
      expect(verified.kind).toBe('announce');
      const body = verified.body as DeviceBodyOf<typeof AnnounceMessage>;
      expect(Buffer.from(body.enrolmentPublicKey, 'base64')).toEqual(Buffer.from(device.enrolmentPublicKey));
      expect(body.firmwareMeasurement).toBe(firmwareMeasurement('1.0.0'));
      expect(device.state).toBe('announced');
    });

    it('answers a signed identity challenge; the answer verifies with its enrolled key', async () => {
      const downlink = await challenge();
      expect(await device.receive(downlink.subject, downlink.data)).toBe('handled');
      expect(transport.sent).toHaveLength(1);
      const { subject, data } = transport.sent[0]!;
      expect(subject).toBe(`dev.${device.deviceId}.identity-response`);
      const response = await platform.verifyUplink(subject, data, device.enrolmentPublicKey);
      const sentChallenge = downlink.envelope.body as DeviceBodyOf<typeof IdentityChallengeMessage>;
      expect(response.body).toEqual({
        challengeId: 'ch-1',
        nonce: sentChallenge.nonce,
        firmwareMeasurement: firmwareMeasurement('1.0.0'),
      });
      expect(response.keyId).toBe('enrolment');
      // Someone else's key does not verify it.
      const other = await make();
      await expect(platform.verifyUplink(subject, data, other.enrolmentPublicKey)).rejects.toMatchObject({
        code: 'bad-signature',
      });
      expect(device.state).toBe('identity-proven');
    });

    it('signs uplinks with strictly increasing counters and keeps the high-water mark in flash', async () => {
      for (let i = 0; i < 3; i++) {
        const d = await challenge();
        await device.receive(d.subject, d.data);
      }
      const counters = transport.sent.map((s) => s.envelope.counter);
      expect(counters).toEqual([1, 2, 3]);
      expect(device.flash.uplinkCounter).toBe(3);
      expect(device.flash.lastDownlinkCounter).toBe(3);
    });

    it('answers an enrolment-key request with the key it reconstructs', async () => {
      const d = await platform.downlink(EnrolmentKeyRequestMessage, device.deviceId, {
        requestId: 'rq-1',
        expiresAt: inAMinute(),
      });
      await device.receive(d.subject, d.data);
      const report = await platform.verifyUplink(
        transport.sent[0]!.subject,
        transport.sent[0]!.data,
        device.enrolmentPublicKey,
      );
      expect(report.kind).toBe('enrolment-key-report');
      expect(Buffer.from((report.body as { enrolmentPublicKey: string }).enrolmentPublicKey, 'base64')).toEqual(
        Buffer.from(device.enrolmentPublicKey),
      );
    });
  });

  describe('when a platform message is not genuine, fresh and for this device', () => {
    const expectRefused = async (subject: string, data: Uint8Array, code: string) => {
      expect(await device.receive(subject, data)).toBe('refused');
      expect(device.journal.entries.at(-1)?.observation).toMatchObject({ type: 'refused', code });
      expect(transport.sent).toHaveLength(0);
    };

    it('refuses a forged signature (another key, even claiming the platform key id)', async () => {
      const forger = await generatePlatformKey('platform-1');
      const forged = await platform.downlink(
        IdentityChallengeMessage,
        device.deviceId,
        { challengeId: 'ch-f', nonce: nonce(), expiresAt: inAMinute() },
        { privateKey: forger.key.privateKey },
      );
      await expectRefused(forged.subject, forged.data, 'bad-signature');
      const tampered = await challenge();
      const json = JSON.parse(new TextDecoder().decode(tampered.data)) as DeviceEnvelope;
      (json.body as { challengeId: string }).challengeId = 'ch-evil';
      await expectRefused(tampered.subject, new TextEncoder().encode(JSON.stringify(json)), 'bad-signature');
    });

    it('refuses a key id it has not pinned', async () => {
      const other = await platform.downlink(
        IdentityChallengeMessage,
        device.deviceId,
        { challengeId: 'ch-k', nonce: nonce(), expiresAt: inAMinute() },
        { keyId: 'platform-2' },
      );
      await expectRefused(other.subject, other.data, 'wrong-key');
    });

    it('refuses a replay and an older counter', async () => {
      const first = await challenge();
      const second = await challenge();
      expect(await device.receive(second.subject, second.data)).toBe('handled');
      transport.sent.length = 0;
      await expectRefused(second.subject, second.data, 'replayed');
      await expectRefused(first.subject, first.data, 'replayed');
    });

    it("refuses a message on the wrong subject: another device's inbox, or another device's envelope", async () => {
      const other = await make();
      const forOther = await challenge(other);
      await expectRefused(forOther.subject, forOther.data, 'subject-mismatch');
      await expectRefused(`dev.${device.deviceId}.inbox.identity-challenge`, forOther.data, 'subject-mismatch');
      const mine = await challenge();
      await expectRefused(`dev.${device.deviceId}.inbox.csr-request`, mine.data, 'subject-mismatch');
      await expectRefused(`dev.${device.deviceId}.identity-challenge`, mine.data, 'subject-mismatch');
    });

    it('refuses a stale message and an expired challenge', async () => {
      const old = await platform.downlink(
        IdentityChallengeMessage,
        device.deviceId,
        { challengeId: 'ch-s', nonce: nonce(), expiresAt: inAMinute() },
        { clock: () => new Date(Date.now() - 3_600_000) },
      );
      await expectRefused(old.subject, old.data, 'stale');
      const expired = await challenge(device, {
        challengeId: 'ch-e',
        nonce: nonce(),
        expiresAt: new Date(Date.now() - 1000).toISOString(),
      });
      await expectRefused(expired.subject, expired.data, 'expired');
    });

    it('refuses malformed bytes, and everything when no platform key is pinned', async () => {
      await expectRefused(
        `dev.${device.deviceId}.inbox.identity-challenge`,
        new TextEncoder().encode('{"kind":'),
        'malformed',
      );
      const unpinned = await make({ platformKey: undefined });
      const d = await challenge(unpinned);
      expect(await unpinned.receive(d.subject, d.data)).toBe('refused');
      expect(unpinned.journal.entries.at(-1)?.observation).toMatchObject({ code: 'no-platform-key' });
      expect(transport.sent).toHaveLength(0);
    });

    it('a refused message does not burn the counter: the genuine next one is accepted', async () => {
      const forger = await generatePlatformKey('platform-1');
      const forged = await platform.downlink(
        IdentityChallengeMessage,
        device.deviceId,
        { challengeId: 'ch-f', nonce: nonce(), expiresAt: inAMinute() },
        { privateKey: forger.key.privateKey },
      );
      await device.receive(forged.subject, forged.data);
      const genuine = await challenge();
      expect(await device.receive(genuine.subject, genuine.data)).toBe('handled');
    });
  });

  describe('ownership transfer', () => {
    const statementFor = (target: SimulatedDevice, overrides: object = {}) => ({
      transferId: 't-1',
      deviceId: target.deviceId,
      enrolmentKeyDigest: createHash('sha256').update(target.enrolmentPublicKey).digest('hex'),
      fromOwnerId: 'acme',
      toOwnerId: 'globex',
      toBatchId: 'globex-fridges',
      ownerEpoch: target.ownerEpoch + 1,
      ...overrides,
    });
    const csrFor = async (keyId: string) => {
      const sentBefore = transport.sent.length;
      const d = await platform.downlink(CsrRequestMessage, device.deviceId, { requestId: `rq-${keyId}`, keyId });
      await device.receive(d.subject, d.data);
      if (transport.sent.length === sentBefore) return undefined;
      const sent = transport.sent.at(-1)!;
      return (await platform.verifyUplink(sent.subject, sent.data, device.enrolmentPublicKey)).body as Csr;
    };

    it('acknowledges its next epoch with its enrolment key, then certifies keys of that epoch only: unrelated to the old ones', async () => {
      const before = await csrFor('tls-0');
      const statement = statementFor(device);
      const ack = await device.acknowledgeTransfer(statement);
      expect(await custodySignatureValid('acknowledgement', statement, ack.signature, device.enrolmentPublicKey)).toBe(
        true,
      );
      // The signature is the device's acknowledgement, not the owners' authorisation or acceptance.
      expect(await custodySignatureValid('authorisation', statement, ack.signature, device.enrolmentPublicKey)).toBe(
        false,
      );
      expect(device.ownerEpoch).toBe(1);
      expect(device.flash.pendingCsrs).toEqual({});
      // The old epoch's key is never certified again; the new epoch's is another key.
      expect(await csrFor('tls-0')).toBeUndefined();
      expect(device.journal.entries.at(-1)?.observation).toMatchObject({ code: 'other-owner-epoch' });
      const after = await csrFor('tls-1-0');
      expect(after?.keyAttestation?.keyId).toBe('tls-1-0');
      expect(after?.keyAttestation?.publicKey).not.toBe(before?.keyAttestation?.publicKey);
      // The same transfer acknowledged again (a retry) signs again without moving further.
      await device.acknowledgeTransfer(statement);
      expect(device.ownerEpoch).toBe(1);
    });

    it('refuses a statement about another device, another key or an epoch other than the next; nothing changes', async () => {
      const other = await make();
      await expect(device.acknowledgeTransfer(statementFor(other))).rejects.toMatchObject({
        code: 'TRANSFER_NOT_ACKNOWLEDGED',
      });
      await expect(
        device.acknowledgeTransfer(statementFor(device, { enrolmentKeyDigest: 'ab'.repeat(32) })),
      ).rejects.toMatchObject({ code: 'TRANSFER_NOT_ACKNOWLEDGED' });
      await expect(device.acknowledgeTransfer(statementFor(device, { ownerEpoch: 2 }))).rejects.toMatchObject({
        code: 'TRANSFER_NOT_ACKNOWLEDGED',
      });
      expect(device.ownerEpoch).toBe(0);
      expect(parseFlash(serialiseFlash(device.flash)).owner).toBeUndefined();
    });

    it('reports firmware-decryption keys of its epoch: unchanged at epoch 0, unrelated to them after the transfer', async () => {
      const seed = 'device-spec/firmware-keys-per-epoch';
      device = await make({ seed });
      const firmwareKeys = async (requestId: string) => {
        const d = await platform.downlink(FirmwareKeysRequestMessage, device.deviceId, { requestId });
        expect(await device.receive(d.subject, d.data)).toBe('handled');
        const sent = transport.sent.at(-1)!;
        const envelope = await platform.verifyUplink(sent.subject, sent.data, device.enrolmentPublicKey);
        expect(envelope.kind).toBe('firmware-keys');
        const body = envelope.body as DeviceBodyOf<typeof FirmwareKeysMessage>;
        const statement = { deviceId: device.deviceId, ...body };
        expect(encryptionKeysAttestationValid(statement, body.attestation, device.enrolmentPublicKey)).toBe(true);
        // The attestation binds the epoch: it does not vouch for the same keys under another one.
        const otherEpoch = { ...statement, ownerEpoch: (body.ownerEpoch ?? 0) + 1 };
        expect(encryptionKeysAttestationValid(otherEpoch, body.attestation, device.enrolmentPublicKey)).toBe(false);
        return body;
      };
      const before = await firmwareKeys('fk-0');
      expect(before.ownerEpoch).toBe(0);
      // Epoch 0: the keys the device always had (the labels from before transfers), derived from the same silicon.
      const silicon = PufDevice.manufacture({ seed, profile: 'sram' });
      const legacy = await silicon.deriveFirmwareDecryptionKeys(device.flash.helperData);
      expect(before.ecdhPublicKey).toBe(Buffer.from(legacy.ecdh.publicKeySpki).toString('base64'));
      expect(before.mlKemPublicKey).toBe(Buffer.from(legacy.mlKem.publicKey).toString('base64'));

      await device.acknowledgeTransfer(statementFor(device));
      const after = await firmwareKeys('fk-1');
      expect(after.ownerEpoch).toBe(1);
      expect(after.ecdhPublicKey).not.toBe(before.ecdhPublicKey);
      expect(after.mlKemPublicKey).not.toBe(before.mlKemPublicKey);
      // Stable within the epoch: asked again, the same keys.
      const again = await firmwareKeys('fk-2');
      expect([again.ecdhPublicKey, again.mlKemPublicKey]).toEqual([after.ecdhPublicKey, after.mlKemPublicKey]);
    });

    it('keeps its epoch in flash across a reboot', async () => {
      await device.acknowledgeTransfer(statementFor(device));
      expect(parseFlash(serialiseFlash(device.flash)).owner).toEqual({ epoch: 1, transferId: 't-1' });
    });
  });

  describe('certificates', () => {
    const csrRequest = async (keyId: string, requestId = 'rq-csr') => {
      const d = await platform.downlink(CsrRequestMessage, device.deviceId, { requestId, keyId });
      await device.receive(d.subject, d.data);
      const sent = transport.sent.at(-1)!;
      const envelope = await platform.verifyUplink(sent.subject, sent.data, device.enrolmentPublicKey);
      return envelope.body as Csr;
    };

    it('makes a CSR for tls-0: CN = device id, a key other than the enrolment key, attested by the enrolment key', async () => {
      const body = await csrRequest('tls-0');
      const csr = await parseAndVerifyCsr(Buffer.from(body.csr, 'base64'));
      expect(csr.subjectCommonName).toBe(device.deviceId);
      expect(spkiEqual(csr.spki, device.enrolmentPublicKey)).toBe(false);
      expect(body.keyAttestation?.keyId).toBe('tls-0');
      expect(spkiEqual(csr.spki, Buffer.from(body.keyAttestation!.publicKey, 'base64'))).toBe(true);
      const statement = keyAttestationBytes({
        deviceId: device.deviceId,
        keyId: 'tls-0',
        publicKey: body.keyAttestation!.publicKey,
      });
      const enrolmentKey = await importVerifyKey(device.enrolmentPublicKey);
      expect(await bytesSignatureValid(statement, body.keyAttestation!.signature, enrolmentKey)).toBe(true);
      // The same statement for another device does not verify.
      const forOther = keyAttestationBytes({
        deviceId: 'd-someoneelse',
        keyId: 'tls-0',
        publicKey: body.keyAttestation!.publicKey,
      });
      expect(await bytesSignatureValid(forOther, body.keyAttestation!.signature, enrolmentKey)).toBe(false);
      // The key is reproducible: a second request certifies the same key.
      const again = await parseAndVerifyCsr(Buffer.from((await csrRequest('tls-0', 'rq-csr-2')).csr, 'base64'));
      expect(spkiEqual(again.spki, csr.spki)).toBe(true);
      const tls1 = await parseAndVerifyCsr(Buffer.from((await csrRequest('tls-1', 'rq-csr-3')).csr, 'base64'));
      expect(spkiEqual(tls1.spki, csr.spki)).toBe(false);
    });

    it('makes an enrolment-key CSR carrying the enrolled key, without attestation', async () => {
      const body = await csrRequest('enrolment');
      const csr = await parseAndVerifyCsr(Buffer.from(body.csr, 'base64'));
      expect(spkiEqual(csr.spki, device.enrolmentPublicKey)).toBe(true);
      expect(body.keyAttestation).toBeUndefined();
    });

    it('stores a delivered certificate only when it carries the key it asked for', async () => {
      const ca = await testCa();
      const body = await csrRequest('tls-0');
      const csr = await parseAndVerifyCsr(Buffer.from(body.csr, 'base64'));
      const chainPem = [ca.issuing.pem, ca.root.pem];
      const deliver = async (requestId: string, pem: string, serial: string) => {
        const d = await platform.downlink(CertificateMessage, device.deviceId, {
          requestId,
          serialNumber: serial,
          certificatePem: pem,
          chainPem,
        });
        return device.receive(d.subject, d.data);
      };
      // Wrong key (the enrolment key instead of tls-0): refused, not stored.
      const wrong = await ca.issue(device.deviceId, device.enrolmentPublicKey);
      expect(await deliver(body.requestId, wrong.pem, wrong.serialHex)).toBe('refused');
      expect(device.journal.entries.at(-1)?.observation).toMatchObject({ code: 'certificate-key-mismatch' });
      // Never asked for.
      const right = await ca.issue(device.deviceId, csr.spki);
      expect(await deliver('rq-unknown', right.pem, right.serialHex)).toBe('refused');
      expect(device.journal.entries.at(-1)?.observation).toMatchObject({ code: 'unrequested-certificate' });
      // Right key, but another device's name.
      const misnamed = await ca.issue('d-someoneelse', csr.spki);
      expect(await deliver(body.requestId, misnamed.pem, misnamed.serialHex)).toBe('refused');
      expect(device.flash.certificates).toEqual({});
      // The right one.
      expect(await deliver(body.requestId, right.pem, right.serialHex)).toBe('handled');
      expect(device.flash.certificates['tls-0']).toMatchObject({
        requestId: body.requestId,
        serialNumber: right.serialHex,
        certificatePem: right.pem,
        chainPem,
      });
      expect(device.flash.pendingCsrs).toEqual({});
      expect(device.state).toBe('certified');
    });

    it('sends a CSR again, same requestId, while its certificate does not come (waits doubling), and stops once it came', async () => {
      let now = Date.now();
      device = await make({ clock: () => new Date(now) });
      const ca = await testCa();
      const body = await csrRequest('tls-0', 'rq-lost');
      const csrs = () => transport.sent.filter((s) => s.subject.endsWith('.csr'));
      expect(csrs()).toHaveLength(1);
      now += 29_999;
      expect(device.hasOverdueCsr(30_000)).toBe(false);
      expect(await device.resendOverdueCsrs(30_000)).toBe(0);
      now += 1;
      expect(device.hasOverdueCsr(30_000)).toBe(true);
      expect(await device.resendOverdueCsrs(30_000)).toBe(1);
      const again = await platform.verifyUplink(csrs()[1]!.subject, csrs()[1]!.data, device.enrolmentPublicKey);
      expect((again.body as Csr).requestId).toBe('rq-lost');
      // The second wait is twice as long.
      now += 59_999;
      expect(await device.resendOverdueCsrs(30_000)).toBe(0);
      now += 1;
      expect(await device.resendOverdueCsrs(30_000)).toBe(1);
      const csr = await parseAndVerifyCsr(Buffer.from(body.csr, 'base64'));
      const issued = await ca.issue(device.deviceId, csr.spki);
      const d = await platform.downlink(CertificateMessage, device.deviceId, {
        requestId: 'rq-lost',
        serialNumber: issued.serialHex,
        certificatePem: issued.pem,
        chainPem: [ca.issuing.pem, ca.root.pem],
      });
      expect(await device.receive(d.subject, d.data)).toBe('handled');
      now += 3_600_000;
      expect(device.hasOverdueCsr(30_000)).toBe(false);
      expect(await device.resendOverdueCsrs(30_000)).toBe(0);
      expect(csrs()).toHaveLength(3);
    });

    it('refuses a certificate whose chain does not verify', async () => {
      const [ca, otherCa] = [await testCa(), await testCa()];
      const body = await csrRequest('tls-0');
      const csr = await parseAndVerifyCsr(Buffer.from(body.csr, 'base64'));
      const cert = await ca.issue(device.deviceId, csr.spki);
      const d = await platform.downlink(CertificateMessage, device.deviceId, {
        requestId: body.requestId,
        serialNumber: cert.serialHex,
        certificatePem: cert.pem,
        chainPem: [otherCa.issuing.pem, otherCa.root.pem],
      });
      expect(await device.receive(d.subject, d.data)).toBe('refused');
      expect(device.journal.entries.at(-1)?.observation).toMatchObject({ code: 'certificate-chain-invalid' });
    });
  });

  describe('other downlinks', () => {
    it('stores connection parameters and records platform rejections', async () => {
      const params = {
        targetId: 'tg-1',
        endpoint: { protocol: 'mqtts' as const, host: 'broker.local', port: 8883 },
        clientId: device.deviceId,
        topicPrefix: `devices/${device.deviceId}`,
      };
      const d = await platform.downlink(ConnectionParametersMessage, device.deviceId, params);
      expect(await device.receive(d.subject, d.data)).toBe('handled');
      expect(device.flash.connections['tg-1']).toEqual({
        endpoint: params.endpoint,
        clientId: params.clientId,
        topicPrefix: params.topicPrefix,
      });
      expect(device.state).toBe('configured');
      const r = await platform.downlink(RejectionMessage, device.deviceId, {
        inReplyTo: { kind: 'csr', counter: 4 },
        code: 'not-verified',
      });
      expect(await device.receive(r.subject, r.data)).toBe('handled');
      expect(device.journal.entries.at(-1)?.observation).toEqual({
        type: 'platform-rejection',
        kind: 'csr',
        code: 'not-verified',
      });
      expect(transport.sent).toHaveLength(0);
    });
  });

  describe('faults', () => {
    it('an offline device does not answer', async () => {
      device.online = false;
      const d = await challenge();
      expect(await device.receive(d.subject, d.data)).toBe('offline');
      expect(await device.announce()).toBe(false);
      expect(transport.sent).toHaveLength(0);
      expect(device.state).toBe('offline');
    });

    it('corrupted helper data makes key derivation fail with a typed error, never another key', async () => {
      device.corruptHelperData();
      const error = await device.withKeys(['enrolment'], async () => 'used').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DeviceKeyUnavailableError);
      expect((error as DeviceKeyUnavailableError).cause).toBeInstanceOf(KeyCheckMismatchError);
      const d = await challenge();
      expect(await device.receive(d.subject, d.data)).toBe('key-failure');
      expect(await device.announce()).toBe(false);
      expect(transport.sent).toHaveLength(0);
      expect(device.state).toBe('key-failure');
      // Whatever bit is flipped, the outcome is a typed refusal, not a key.
      for (const [i, mask] of [
        [5, 1],
        [40, 0x80],
        [300, 4],
        [-1, 1],
      ] as const) {
        const fresh = await make();
        fresh.corruptHelperData(i < 0 ? fresh.flash.helperData.length - 1 : i, mask);
        const e = await fresh.withKeys(['enrolment'], async () => 'used').catch((x: unknown) => x);
        expect(e).toBeInstanceOf(DeviceKeyUnavailableError);
        expect(isPufError((e as Error).cause)).toBe(true);
      }
    });

    it('a tampered firmware image shows in its measurement', async () => {
      device.tamperFirmware();
      expect(device.flash.firmware.measurement).not.toBe(firmwareMeasurement('1.0.0'));
      await device.announce();
      expect((transport.sent[0]!.envelope.body as { firmwareMeasurement: string }).firmwareMeasurement).toBe(
        device.flash.firmware.measurement,
      );
    });

    it('keys reproduce at -40/+25/+125 C after 10 years', async () => {
      const baseline = await device.withKeys(['enrolment', 'tls-0'], async (keys) =>
        [...keys.values()].map((k) => Buffer.from(k.publicKeySpki)),
      );
      for (const temperatureC of [-40, 25, 125]) {
        device.conditions = { temperatureC, ageYears: 10 };
        const spkis = await device.withKeys(['enrolment', 'tls-0'], async (keys) =>
          [...keys.values()].map((k) => Buffer.from(k.publicKeySpki)),
        );
        expect(spkis).toEqual(baseline);
      }
    });
  });

  describe('its keys in RAM', () => {
    /** The device's silicon, counting its reads: each derivation is one PUF read. */
    const countingHardware = () => {
      const reads: KeyContext[][] = [];
      const hardware: DeviceHardware = {
        deriveKeys: (read, contexts, helperData, at) => {
          reads.push([...contexts]);
          return deriveKeysFromRead(read, contexts, helperData, at);
        },
      };
      return { reads, hardware };
    };

    it('holds the enrolment key it reconstructed until it boots: heartbeats after the first take no PUF read', async () => {
      const { reads, hardware } = countingHardware();
      const d = await make({ hardware });
      for (let i = 0; i < 3; i++) expect(await d.heartbeat()).toBe(true);
      expect(reads).toEqual([[{ purpose: 'enrolment' }]]);
      d.boot(); // a reset: RAM is gone, the next heartbeat reconstructs the key
      expect(await d.heartbeat()).toBe(true);
      expect(reads).toHaveLength(2);
      for (const sent of transport.sent)
        expect((await platform.verifyUplink(sent.subject, sent.data, d.enrolmentPublicKey)).kind).toBe('heartbeat');
      expect(transport.sent.map((s) => s.envelope.counter)).toEqual([1, 2, 3, 4]);
    });

    it('a CSR then reads only the key it certifies, still attested by the enrolment key', async () => {
      const { reads, hardware } = countingHardware();
      const d = await make({ hardware });
      await d.heartbeat();
      await d.requestCertificate('tls-1', 'csr-ram');
      expect(reads).toEqual([[{ purpose: 'enrolment' }], [{ purpose: 'tls', generation: 1 }]]);
      const csr = transport.sent[1]!;
      const body = (await platform.verifyUplink(csr.subject, csr.data, d.enrolmentPublicKey)).body as Csr;
      const attestation = body.keyAttestation!;
      const enrolmentKey = await importVerifyKey(d.enrolmentPublicKey);
      const attested = keyAttestationBytes({ deviceId: d.deviceId, keyId: 'tls-1', publicKey: attestation.publicKey });
      expect(await bytesSignatureValid(attested, attestation.signature, enrolmentKey)).toBe(true);
    });

    it("holds a renewal's new TLS key from its CSR until it has connected with it; a first certificate's is not held", async () => {
      const { reads, hardware } = countingHardware();
      const d = await make({ hardware });
      const ca = await testCa();
      const csrBody = (i: number) => {
        const sent = transport.sent.filter((m) => m.subject.endsWith('.csr'))[i]!;
        return sent.envelope.body as Csr;
      };
      const connectionKey = (keyId: 'tls-0' | 'tls-1' | 'tls-2') =>
        d.withConnectionKey(keyId, async (key) => Buffer.from(key.publicKeySpki).toString('base64'));
      // First certification: nothing held, connecting reads the PUF again.
      await d.requestCertificate('tls-0', 'rq-0');
      expect(reads).toEqual([[{ purpose: 'enrolment' }, { purpose: 'tls', generation: 0 }]]);
      await connectionKey('tls-0');
      expect(reads).toHaveLength(2);
      const issued = await ca.issue(d.deviceId, (await parseAndVerifyCsr(Buffer.from(csrBody(0).csr, 'base64'))).spki);
      const delivery = await platform.downlink(CertificateMessage, d.deviceId, {
        requestId: 'rq-0',
        serialNumber: issued.serialHex,
        certificatePem: issued.pem,
        chainPem: [ca.issuing.pem, ca.root.pem],
      });
      expect(await d.receive(delivery.subject, delivery.data)).toBe('handled');
      // A renewal: the CSR reads the new key once; connecting with it (and a resent CSR) reads nothing more.
      await d.requestCertificate('tls-1', 'rq-1');
      expect(reads.slice(2)).toEqual([[{ purpose: 'tls', generation: 1 }]]);
      expect(await connectionKey('tls-1')).toBe(csrBody(1).keyAttestation!.publicKey);
      expect(await connectionKey('tls-1')).toBe(csrBody(1).keyAttestation!.publicKey);
      expect(reads).toHaveLength(3);
      // Another key is still reconstructed; once connected with the new key, it is let go.
      await connectionKey('tls-0');
      expect(reads).toHaveLength(4);
      d.connectedWith('tls-1');
      expect(await connectionKey('tls-1')).toBe(csrBody(1).keyAttestation!.publicKey);
      expect(reads).toHaveLength(5);
      // A reset drops it too.
      await d.requestCertificate('tls-2', 'rq-2');
      d.boot();
      expect(await connectionKey('tls-2')).toBe(csrBody(2).keyAttestation!.publicKey);
      expect(reads.slice(5)).toEqual([[{ purpose: 'tls', generation: 2 }], [{ purpose: 'tls', generation: 2 }]]);
    });

    it('helper data edited in flash takes effect: the held key is dropped and the reconstruction refused', async () => {
      expect(await device.heartbeat()).toBe(true);
      device.corruptHelperData();
      expect(await device.heartbeat()).toBe(false);
      expect(device.state).toBe('key-failure');
    });
  });

  describe('its flash record', () => {
    it('survives a reboot: counters continue, old platform messages stay replays', async () => {
      const d = await challenge();
      await device.receive(d.subject, d.data);
      const restored = new SimulatedDevice(
        PufDevice.manufacture({ seed: `device-spec/${seq - 1}` }),
        parseFlash(serialiseFlash(device.flash)),
        { transport, platformKey: platform.pinned },
      );
      expect(restored.deviceId).toBe(device.deviceId);
      expect(await restored.receive(d.subject, d.data)).toBe('refused');
      const next = await challenge();
      expect(await restored.receive(next.subject, next.data)).toBe('handled');
      expect(transport.sent.map((s) => s.envelope.counter)).toEqual([1, 2]);
    });
  });
});
