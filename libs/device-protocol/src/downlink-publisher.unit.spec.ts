import { IdentityChallengeMessage, type DeviceEnvelope } from '@tunnelkey/contracts';
import { ClockCounter, DeviceMessageVerifier, DownlinkPublisher, generatePlatformKey } from './index.js';

describe('downlinks from several platform services', () => {
  it('clock counters are strictly increasing, even when the clock stands still or steps back', () => {
    let now = 1_000;
    const counter = new ClockCounter(() => now);
    const a = counter.next();
    const b = counter.next();
    now = 900;
    const c = counter.next();
    expect(a).toBe(1_000_000);
    expect(b).toBe(a + 1);
    expect(c).toBe(b + 1);
  });

  it('two services (e.g. registry then CA) writing to one device are both accepted by its replay check', async () => {
    const { key } = await generatePlatformKey();
    const published: { subject: string; data: Uint8Array }[] = [];
    const publish = (subject: string, data: Uint8Array) => void published.push({ subject, data });
    let now = Date.parse('2026-11-27T12:00:00Z');
    const clock = () => new Date(now);
    const registry = new DownlinkPublisher({ platformKey: key, publish, clock });
    for (let i = 0; i < 3; i++)
      await registry.send(IdentityChallengeMessage, 'd-device', {
        challengeId: `c-${i}`,
        nonce: 'AAAAAAAAAAAAAAAAAAAAAA==',
        expiresAt: '2026-11-27T12:05:00Z',
      });
    now += 5; // the CA starts later, in another process, with its own counter
    const ca = new DownlinkPublisher({ platformKey: key, publish, clock });
    await ca.send(IdentityChallengeMessage, 'd-device', {
      challengeId: 'c-ca',
      nonce: 'AAAAAAAAAAAAAAAAAAAAAA==',
      expiresAt: '2026-11-27T12:05:00Z',
    });
    const device = new DeviceMessageVerifier({ direction: 'downlink', clock, resolveKey: async () => key.publicKey });
    const accepted: DeviceEnvelope[] = [];
    for (const m of published) accepted.push(await device.verify(m.subject, m.data));
    expect(accepted.map((e) => (e.body as { challengeId: string }).challengeId)).toEqual(['c-0', 'c-1', 'c-2', 'c-ca']);
  });
});
