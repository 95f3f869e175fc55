import { isRenewalDue, jitterOf, nextTlsKeyId, renewalDueAt, tlsGenerationOf } from './renewal-schedule.js';

const hour = 3_600_000;
const certificate = (deviceId: string, serialNumber = 'aa01') => ({
  deviceId,
  serialNumber,
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2026-01-01T03:00:00.000Z', // three hours
});
const start = Date.parse('2026-01-01T00:00:00.000Z');

describe('renewal schedule', () => {
  describe('given the default share (two thirds) and no jitter', () => {
    const settings = { renewAtShare: 2 / 3, jitterShare: 0 };
    it('is due two thirds into the lifetime, not before', () => {
      expect(renewalDueAt(certificate('d-1'), settings)).toBe(start + 2 * hour);
      expect(isRenewalDue(certificate('d-1'), settings, start + 2 * hour - 1)).toBe(false);
      expect(isRenewalDue(certificate('d-1'), settings, start + 2 * hour)).toBe(true);
    });
  });

  describe('given a jitter share', () => {
    const settings = { renewAtShare: 2 / 3, jitterShare: 0.2 };
    const due = Array.from({ length: 1000 }, (_, i) => renewalDueAt(certificate(`d-${i}`), settings));
    it('spreads a batch certified together over the jitter window, never after the share', () => {
      const earliest = Math.min(...due);
      const latest = Math.max(...due);
      expect(latest).toBeLessThanOrEqual(start + 2 * hour);
      expect(earliest).toBeGreaterThanOrEqual(start + 2 * hour - 0.2 * 3 * hour);
      // No burst: no one minute of the 36-minute window holds more than a tenth of the batch.
      const perMinute = new Map<number, number>();
      for (const t of due) perMinute.set(Math.floor(t / 60_000), (perMinute.get(Math.floor(t / 60_000)) ?? 0) + 1);
      expect(Math.max(...perMinute.values())).toBeLessThan(100);
      expect(latest - earliest).toBeGreaterThan(30 * 60_000);
    });
    it('draws the same moment on every instance and after a restart', () => {
      expect(jitterOf('d-7', 'aa01')).toBe(jitterOf('d-7', 'aa01'));
      expect(jitterOf('d-7', 'aa01')).not.toBe(jitterOf('d-7', 'aa02'));
    });
  });

  describe('given a short-lived certificate (one hour)', () => {
    it('renews two thirds in, 40 minutes after issuance', () =>
      expect(
        renewalDueAt(
          { ...certificate('d-1'), notAfter: '2026-01-01T01:00:00.000Z' },
          { renewAtShare: 2 / 3, jitterShare: 0 },
        ),
      ).toBe(start + 40 * 60_000));
  });

  describe('the next key', () => {
    it('is a TLS generation past every one certified', () => {
      expect(nextTlsKeyId(undefined)).toBe('tls-0');
      expect(nextTlsKeyId(0)).toBe('tls-1');
      expect(nextTlsKeyId(41)).toBe('tls-42');
      // After a transfer, under the device's owner epoch.
      expect(nextTlsKeyId(0, 1)).toBe('tls-1-1');
      expect(tlsGenerationOf('tls-3-7')).toBe(7);
    });
    it('reads the generation of a key id', () => {
      expect(tlsGenerationOf('tls-3')).toBe(3);
      expect(tlsGenerationOf('enrolment')).toBeUndefined();
    });
  });
});
