import { UnsafeTopicRightError } from '../errors.js';
import { checkTopicRights, deviceIdFromTopic, deviceTopicPlan, telemetryFilters } from './topic-plan.js';

const rights = [
  { topic: 'devices/{deviceId}/telemetry', access: 'publish' as const },
  { topic: 'devices/{deviceId}/commands/#', access: 'subscribe' as const },
  { topic: 'devices/{deviceId}/state', access: 'publish-subscribe' as const },
];

describe('topic plan', () => {
  test("substitutes the device id and derives the device's prefix", () => {
    expect(deviceTopicPlan(rights, 'd-1')).toEqual({
      topicPrefix: 'devices/d-1',
      rights: [
        { topic: 'devices/d-1/telemetry', publish: true, subscribe: false },
        { topic: 'devices/d-1/commands/#', publish: false, subscribe: true },
        { topic: 'devices/d-1/state', publish: true, subscribe: true },
      ],
    });
  });

  test.each([
    ['no placeholder', 'devices/#'],
    ['a wildcard before the device id', '+/{deviceId}/x'],
    ['a $ topic', '$SYS/{deviceId}'],
    ['a placeholder inside a level', 'devices/x{deviceId}/t'],
    ['# not last', 'devices/{deviceId}/#/x'],
  ])('refuses a right with %s', (_why, topic) => {
    expect(() => checkTopicRights([{ topic, access: 'publish' }])).toThrow(UnsafeTopicRightError);
  });

  test('refuses rights with different prefixes', () => {
    expect(() => checkTopicRights([rights[0]!, { topic: 'other/{deviceId}/t', access: 'publish' }])).toThrow(
      /share one device prefix/,
    );
  });

  test('refuses a device id that is not a safe topic level', () => {
    expect(() => deviceTopicPlan(rights, 'a/#')).toThrow(UnsafeTopicRightError);
  });

  test('telemetry filters cover the publish rights of every device; topics map back to devices', () => {
    expect(telemetryFilters(rights)).toEqual(['devices/+/telemetry', 'devices/+/state']);
    expect(deviceIdFromTopic('devices/{deviceId}', 'devices/d-9/telemetry')).toBe('d-9');
    expect(deviceIdFromTopic('devices/{deviceId}', 'other/d-9/telemetry')).toBeUndefined();
  });
});
