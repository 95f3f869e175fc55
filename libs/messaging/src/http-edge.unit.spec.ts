import { httpsOptionsOf, isLoopback, metricsAccess } from './http-edge.js';

describe('http edge: TLS files and who reads /metrics', () => {
  it('is plain HTTP with neither file, refuses one without the other or an unreadable file', () => {
    expect(httpsOptionsOf({})).toBeUndefined();
    expect(httpsOptionsOf({ certFile: ' ', keyFile: '' })).toBeUndefined();
    expect(() => httpsOptionsOf({ keyFile: '/k.pem' })).toThrow(/must be set together/);
    expect(() => httpsOptionsOf({ certFile: '/nowhere/c.pem', keyFile: '/nowhere/k.pem' })).toThrow(
      'TLS_CERT_FILE cannot be read (ENOENT)',
    );
  });

  it('knows loopback peers', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', '', undefined].map(isLoopback)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('with METRICS_TOKEN: the bearer token from anywhere, nothing else', () => {
    const token = 'a-metrics-token';
    const from = (remoteAddress: string, authorization?: string) =>
      metricsAccess({ remoteAddress, authorization }, token);
    expect(from('10.0.0.9', `Bearer ${token}`)).toBe('allowed');
    expect(from('10.0.0.9', 'bearer  a-metrics-token ')).toBe('allowed');
    expect(from('127.0.0.1')).toBe('unauthenticated');
    expect(from('10.0.0.9', 'Bearer a-metrics-token-2')).toBe('unauthenticated');
    expect(from('10.0.0.9', `Basic ${token}`)).toBe('unauthenticated');
  });

  it('without METRICS_TOKEN: the machine itself only', () => {
    expect(metricsAccess({ remoteAddress: '127.0.0.1', authorization: undefined }, undefined)).toBe('allowed');
    expect(metricsAccess({ remoteAddress: '192.168.1.20', authorization: 'Bearer x' }, undefined)).toBe('forbidden');
    expect(metricsAccess({ remoteAddress: undefined, authorization: undefined }, '')).toBe('forbidden');
  });
});
