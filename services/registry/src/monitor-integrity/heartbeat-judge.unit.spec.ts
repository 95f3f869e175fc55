import { judgeHeartbeat, silentTooLong, type Heartbeat, type LastHeartbeat } from './heartbeat-judge.js';

const good = 'a'.repeat(64);
const tampered = 'b'.repeat(64);
const t0 = Date.parse('2026-01-01T00:00:00.000Z');
const beat = (counter: number, sentAt: number, firmwareMeasurement = good, nonce = `n-${counter}`): Heartbeat => ({
  counter,
  sentAt,
  nonce,
  firmwareMeasurement,
});
const last: LastHeartbeat = { counter: 10, sentAt: t0, nonces: ['n-7', 'n-10'], rememberedForWindow: false };

describe('heartbeat judge', () => {
  describe('given no heartbeat before', () => {
    it('accepts the expected measurement', () =>
      expect(judgeHeartbeat(beat(1, t0), undefined, good)).toEqual({ verdict: 'accepted' }));
    it('flags another measurement', () =>
      expect(judgeHeartbeat(beat(1, t0, tampered), undefined, good)).toEqual({
        verdict: 'accepted',
        violation: 'measurement-mismatch',
      }));
    it('follows a device nothing is expected of', () =>
      expect(judgeHeartbeat(beat(1, t0, tampered), undefined, undefined)).toEqual({ verdict: 'accepted' }));
  });

  describe('given a heartbeat accepted with counter 10', () => {
    it('accepts the next one', () =>
      expect(judgeHeartbeat(beat(11, t0 + 10_000), last, good)).toEqual({ verdict: 'accepted' }));
    it('refuses the same heartbeat again as a replay', () =>
      expect(judgeHeartbeat(beat(10, t0), last, good)).toEqual({ verdict: 'replayed' }));
    it('refuses an older heartbeat again as a replay', () =>
      expect(judgeHeartbeat(beat(7, t0 - 30_000), last, good)).toEqual({ verdict: 'replayed' }));
    it('flags a later heartbeat whose counter went back: a second holder of the key', () =>
      expect(judgeHeartbeat(beat(4, t0 + 2_000), last, good)).toEqual({
        verdict: 'violation',
        violation: 'counter-regression',
      }));
    it('flags an earlier, never-accepted heartbeat once every accepted one in the window is remembered (a clone signing just before the device)', () =>
      expect(judgeHeartbeat(beat(4, t0 - 5, good, 'n-clone'), { ...last, rememberedForWindow: true }, good)).toEqual({
        verdict: 'violation',
        violation: 'counter-regression',
      }));
    it('still refuses a remembered heartbeat as a replay then', () =>
      expect(judgeHeartbeat(beat(7, t0 - 30_000), { ...last, rememberedForWindow: true }, good)).toEqual({
        verdict: 'replayed',
      }));
    it('flags the same counter sent later', () =>
      expect(judgeHeartbeat(beat(10, t0 + 1, tampered, 'n-other'), last, good)).toMatchObject({
        violation: 'counter-regression',
      }));
  });

  describe('silence', () => {
    const policy = { heartbeatPeriodSeconds: 10, missedPeriods: 1.5 };
    it('is allowed up to the policy share of periods', () =>
      expect(silentTooLong(t0, t0 + 15_000, policy)).toBe(false));
    it('is a violation past it', () => expect(silentTooLong(t0, t0 + 15_001, policy)).toBe(true));
  });
});
