import { aggregateSubject, contextSubject, isAggregateId, streamName } from './contexts.js';
import { UnsafeSubjectToken } from './errors.js';
import { ServerPolicyDefined } from './events/registry.events.js';

const unsafeIds = ['', 'a.b', '*', '>', 'a b', 'a\tb', 'a\nb', 'd-1.>', 'é', 'x'.repeat(129), '$JS'];

describe('aggregate subjects', () => {
  test('one subject per aggregate instance, namespaced on request', () => {
    expect(aggregateSubject('registry', 'device', 'd-7f3a')).toBe('registry.device.d-7f3a');
    expect(aggregateSubject('registry', 'device', 'd-7f3a', 't1')).toBe('t1.registry.device.d-7f3a');
    expect(ServerPolicyDefined.subject('p1')).toBe('registry.policy.p1');
    expect(streamName('ca')).toBe('CA');
    expect(streamName('ca', 't1')).toBe('T1_CA');
    expect(contextSubject('ota', 't1')).toBe('t1.ota');
  });

  test.each(unsafeIds)('refuses the unsafe id %j without echoing it', (id) => {
    expect(isAggregateId(id)).toBe(false);
    expect(() => aggregateSubject('registry', 'device', id)).toThrow(UnsafeSubjectToken);
    try {
      aggregateSubject('registry', 'device', id);
    } catch (error) {
      expect(error).toBeInstanceOf(RangeError);
      expect((error as UnsafeSubjectToken).code).toBe('UNSAFE_SUBJECT_TOKEN');
      if (id.length > 3) expect((error as Error).message).not.toContain(id);
    }
  });

  test('refuses unsafe namespaces and aggregate names', () => {
    expect(() => streamName('ca', 'a.b')).toThrow(UnsafeSubjectToken);
    expect(() => contextSubject('ca', 'a*')).toThrow(UnsafeSubjectToken);
    expect(() => aggregateSubject('registry', 'dev.ice', 'd-1')).toThrow(UnsafeSubjectToken);
    expect(() => aggregateSubject('registry', 'device', 'd-1', '>')).toThrow(UnsafeSubjectToken);
  });
});
