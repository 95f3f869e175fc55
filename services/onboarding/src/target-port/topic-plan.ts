/**
 * From a server policy's topic rights (`devices/{deviceId}/#`) to one device's rights. The
 * invariant every target relies on: a device may publish and subscribe only under its own prefix,
 * so every right must put `{deviceId}` as a whole level with only literal levels before it, and
 * all rights of a policy share that prefix. A policy breaking it is refused, never applied.
 */
import { quarantineTopic } from '@tunnelkey/contracts';
import { UnsafeTopicRightError } from '../errors.js';

export interface TopicRightSpec {
  topic: string;
  access: 'publish' | 'subscribe' | 'publish-subscribe';
}

export interface DeviceTopicRight {
  /** Topic filter with the device id substituted. */
  topic: string;
  publish: boolean;
  subscribe: boolean;
}

export interface DeviceTopicPlan {
  /** e.g. `devices/d-7f3a`: what the device is told it owns. */
  topicPrefix: string;
  rights: DeviceTopicRight[];
}

export const deviceIdPlaceholder = '{deviceId}';

interface CheckedRight {
  levels: string[];
  /** Index of the `{deviceId}` level. */
  at: number;
  right: TopicRightSpec;
}

function checkRight(right: TopicRightSpec, index: number): CheckedRight {
  const fail = (why: string) => new UnsafeTopicRightError(`topic right ${index} (${right.topic}) ${why}`, { index });
  if (right.topic.startsWith('$')) throw fail('must not start with $');
  const levels = right.topic.split('/');
  const at = levels.indexOf(deviceIdPlaceholder);
  if (at < 0) throw fail(`must contain ${deviceIdPlaceholder} as a whole level`);
  if (levels.filter((level) => level.includes('{') || level.includes('}')).length !== 1)
    throw fail(`must contain ${deviceIdPlaceholder} exactly once`);
  for (const level of levels.slice(0, at))
    if (level === '+' || level === '#' || level === '')
      throw fail('must have only literal levels before the device id');
  levels.forEach((level, i) => {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1))
      throw fail('may use # only as the last level');
    if (level.includes('+') && level !== '+') throw fail('may use + only as a whole level');
  });
  return { levels, at, right };
}

/** Checks a policy's rights and returns the prefix template they share (`devices/{deviceId}`). */
export function checkTopicRights(rights: readonly TopicRightSpec[]): string {
  if (rights.length === 0) throw new UnsafeTopicRightError('a policy needs at least one topic right');
  const checked = rights.map(checkRight);
  const prefixOf = (c: CheckedRight) => c.levels.slice(0, c.at + 1).join('/');
  const prefix = prefixOf(checked[0]!);
  const other = checked.find((c) => prefixOf(c) !== prefix);
  if (other)
    throw new UnsafeTopicRightError(`all topic rights must share one device prefix (${prefix})`, {
      topic: other.right.topic,
    });
  return prefix;
}

const substitute = (topic: string, deviceId: string) =>
  topic
    .split('/')
    .map((level) => (level === deviceIdPlaceholder ? deviceId : level))
    .join('/');

/** One device's rights and prefix. */
export function deviceTopicPlan(rights: readonly TopicRightSpec[], deviceId: string): DeviceTopicPlan {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(deviceId))
    throw new UnsafeTopicRightError('device id is not a safe topic level', { deviceId: deviceId.slice(0, 128) });
  const prefix = checkTopicRights(rights);
  return {
    topicPrefix: substitute(prefix, deviceId),
    rights: rights.map((right) => ({
      topic: substitute(right.topic, deviceId),
      publish: right.access !== 'subscribe',
      subscribe: right.access !== 'publish',
    })),
  };
}

/** Filters a monitoring client subscribes to for the devices' telemetry: publish rights, any device. */
export function telemetryFilters(rights: readonly TopicRightSpec[]): string[] {
  checkTopicRights(rights);
  return [
    ...new Set(
      rights
        .filter((r) => r.access !== 'subscribe')
        .map((r) =>
          r.topic
            .split('/')
            .map((l) => (l === deviceIdPlaceholder ? '+' : l))
            .join('/'),
        ),
    ),
  ];
}

/** The device a telemetry topic belongs to, by the policy's prefix template; undefined if none. */
export function deviceIdFromTopic(prefixTemplate: string, topic: string): string | undefined {
  const template = prefixTemplate.split('/');
  const levels = topic.split('/');
  if (levels.length < template.length) return undefined;
  let deviceId: string | undefined;
  for (let i = 0; i < template.length; i++) {
    if (template[i] === deviceIdPlaceholder) deviceId = levels[i];
    else if (template[i] !== levels[i]) return undefined;
  }
  return deviceId || undefined;
}

/** The one topic a quarantined device may still publish to (contracts: the devices know it too). */
export { quarantineTopic };
