import { randomBytes, webcrypto } from 'node:crypto';
import { IdentityResponseMessage, type DeviceEnvelope } from '@tunnelkey/contracts';
import {
  DeviceMessageVerifier,
  EnvelopeSigner,
  importVerifyKey,
  ReplayGuard,
  type DeviceMessageRejectionCode,
} from './index.js';

const now = new Date('2026-11-27T12:00:00.000Z');
const deviceId = 'd-testdevice';
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

async function keyPair() {
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: await importVerifyKey(spki) };
}

describe('device-protocol: signed envelopes, verified before anything is trusted', () => {
  let device: Awaited<ReturnType<typeof keyPair>>;
  let signer: EnvelopeSigner;
  let verifier: DeviceMessageVerifier;
  const body = () => ({ challengeId: 'c-1', nonce: randomBytes(16).toString('base64') });
  const send = () =>
    signer.sign(IdentityResponseMessage, body(), { keyId: 'enrolment', privateKey: device.privateKey });
  const subject = IdentityResponseMessage.subject(deviceId);

  async function refusal(subjectUsed: string, data: Uint8Array): Promise<DeviceMessageRejectionCode | 'accepted'> {
    try {
      await verifier.verify(subjectUsed, data);
      return 'accepted';
    } catch (error) {
      return (error as { code: DeviceMessageRejectionCode }).code;
    }
  }

  beforeEach(async () => {
    device = await keyPair();
    signer = new EnvelopeSigner(deviceId, 0, () => now);
    verifier = new DeviceMessageVerifier({
      direction: 'uplink',
      clock: () => now,
      resolveKey: async (envelope) =>
        envelope.deviceId !== deviceId ? undefined : envelope.keyId === 'enrolment' ? device.publicKey : null,
    });
  });

  it('accepts a well-signed fresh message and returns it typed', async () => {
    const message = await send();
    const verified = await verifier.verify(subject, encode(message));
    expect(verified).toEqual(message);
    expect(message.counter).toBe(1);
  });

  it('refuses the same message twice (replay) and an older counter', async () => {
    const first = await send();
    const second = await send();
    expect(await refusal(subject, encode(second))).toBe('accepted');
    expect(await refusal(subject, encode(second))).toBe('replayed');
    expect(await refusal(subject, encode(first))).toBe('replayed');
  });

  it('refuses a tampered body, a forged signature, and a key of another device', async () => {
    const message = await send();
    const tampered: DeviceEnvelope = { ...message, body: { ...(message.body as object), challengeId: 'c-2' } };
    expect(await refusal(subject, encode(tampered))).toBe('bad-signature');
    const other = await keyPair();
    const forged = await new EnvelopeSigner(deviceId, 5, () => now).sign(IdentityResponseMessage, body(), {
      keyId: 'enrolment',
      privateKey: other.privateKey,
    });
    expect(await refusal(subject, encode(forged))).toBe('bad-signature');
    // A refused message does not advance the counter: the genuine one still goes through.
    expect(await refusal(subject, encode(message))).toBe('accepted');
  });

  it("refuses a message sent on another device's subject, an unknown device, and a stale one", async () => {
    const message = await send();
    expect(await refusal(IdentityResponseMessage.subject('d-otherdevice'), encode(message))).toBe('subject-mismatch');
    const stranger = await new EnvelopeSigner('d-stranger', 0, () => now).sign(IdentityResponseMessage, body(), {
      keyId: 'enrolment',
      privateKey: device.privateKey,
    });
    expect(await refusal(IdentityResponseMessage.subject('d-stranger'), encode(stranger))).toBe('unknown-device');
    const old = await new EnvelopeSigner(deviceId, 10, () => new Date(now.getTime() - 3_600_000)).sign(
      IdentityResponseMessage,
      body(),
      { keyId: 'enrolment', privateKey: device.privateKey },
    );
    expect(await refusal(subject, encode(old))).toBe('stale');
  });

  it('refuses malformed JSON, contract violations and oversized payloads without echoing them', async () => {
    expect(await refusal(subject, new TextEncoder().encode('{"kind":'))).toBe('malformed');
    const message = await send();
    expect(await refusal(subject, encode({ ...message, extra: 'x' }))).toBe('malformed');
    const huge = new Uint8Array(70 * 1024);
    expect(await refusal(subject, huge)).toBe('too-large');
    const error = await verifier
      .verify(subject, encode({ ...message, body: { challengeId: 'SECRET VALUE!', nonce: 'x' } }))
      .catch((e: Error) => e);
    expect(String(error)).not.toContain('SECRET VALUE');
  });
});

describe('ReplayGuard bounds and floor', () => {
  const at = '2026-11-27T12:00:00.000Z';
  const now = new Date(at);

  it('remembers at most maxDevices, forgetting the one accepted longest ago', () => {
    const guard = new ReplayGuard({ maxDevices: 3 });
    for (let i = 0; i < 10; i++) guard.accept(`d-${i}`, 5);
    expect(guard.size).toBe(3);
    expect(guard.judge('d-9', 5, at, now)).toBe('replayed');
    expect(guard.judge('d-0', 5, at, now)).toBe('fresh'); // forgotten: the window alone judges it
  });

  it('refuses counters at or below the floor kept elsewhere (a restart)', () => {
    const guard = new ReplayGuard({ floor: (deviceId) => (deviceId === 'd-1' ? 7 : undefined) });
    expect(guard.judge('d-1', 7, at, now)).toBe('replayed');
    expect(guard.judge('d-1', 8, at, now)).toBe('fresh');
    expect(guard.judge('d-2', 0, at, now)).toBe('fresh');
  });
});
