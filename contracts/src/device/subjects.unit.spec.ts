import { UnsafeSubjectToken } from '../errors.js';
import { CsrMessage, IdentityChallengeMessage } from './messages.js';
import {
  deviceInboxFilter,
  deviceInboxSubject,
  deviceSubject,
  deviceUplinkFilter,
  parseDeviceSubject,
} from './subjects.js';

describe('device protocol subjects', () => {
  test('device -> platform on dev.<id>.<kind>, platform -> device on dev.<id>.inbox.<kind>', () => {
    expect(deviceSubject('d-7f3a', 'csr')).toBe('dev.d-7f3a.csr');
    expect(deviceInboxSubject('d-7f3a', 'certificate')).toBe('dev.d-7f3a.inbox.certificate');
    expect(deviceSubject('d-7f3a', 'csr', 't1')).toBe('t1.dev.d-7f3a.csr');
    expect(CsrMessage.subject('d-7f3a')).toBe('dev.d-7f3a.csr');
    expect(IdentityChallengeMessage.subject('d-7f3a')).toBe('dev.d-7f3a.inbox.identity-challenge');
  });

  test('filters: the platform sees uplinks only, a device its own inbox only', () => {
    expect(deviceUplinkFilter()).toBe('dev.*.*');
    expect(deviceUplinkFilter('announce')).toBe('dev.*.announce');
    expect(deviceInboxFilter('d-7f3a')).toBe('dev.d-7f3a.inbox.>');
  });

  test.each(['', 'a.b', '*', '>', 'a b', 'd-1.inbox', 'x'.repeat(129), 'ü'])(
    'refuses the unsafe device id %j',
    (id) => {
      expect(() => deviceSubject(id, 'csr')).toThrow(UnsafeSubjectToken);
      expect(() => deviceInboxSubject(id, 'csr')).toThrow(UnsafeSubjectToken);
      expect(() => deviceInboxFilter(id)).toThrow(UnsafeSubjectToken);
    },
  );

  test('refuses unsafe kinds and namespaces', () => {
    expect(() => deviceSubject('d-1', 'csr.>')).toThrow(UnsafeSubjectToken);
    expect(() => deviceSubject('d-1', 'CSR')).toThrow(UnsafeSubjectToken);
    expect(() => deviceSubject('d-1', '')).toThrow(UnsafeSubjectToken);
    expect(() => deviceUplinkFilter('*')).toThrow(UnsafeSubjectToken);
    expect(() => deviceSubject('d-1', 'csr', 'a.b')).toThrow(UnsafeSubjectToken);
  });

  test('parses subjects back, and nothing else', () => {
    expect(parseDeviceSubject('dev.d-7f3a.csr')).toEqual({ deviceId: 'd-7f3a', direction: 'uplink', kind: 'csr' });
    expect(parseDeviceSubject('dev.d-7f3a.inbox.certificate')).toEqual({
      deviceId: 'd-7f3a',
      direction: 'downlink',
      kind: 'certificate',
    });
    expect(parseDeviceSubject('t1.dev.d-1.csr', 't1')).toEqual({ deviceId: 'd-1', direction: 'uplink', kind: 'csr' });
    expect(parseDeviceSubject('t1.dev.d-1.csr')).toBeUndefined();
    expect(parseDeviceSubject('dev.d-1')).toBeUndefined();
    expect(parseDeviceSubject('dev.d-1.outbox.csr')).toBeUndefined();
    expect(parseDeviceSubject('dev.d-1.inbox.csr.x')).toBeUndefined();
    expect(parseDeviceSubject('registry.device.d-1')).toBeUndefined();
  });
});
