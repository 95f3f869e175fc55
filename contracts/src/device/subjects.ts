import { aggregateIdPattern, isAggregateId, namespacePattern } from '../contexts.js';
import { UnsafeSubjectToken } from '../errors.js';

/**
 * Device protocol subjects. A device publishes on `dev.<deviceId>.<kind>` and listens on
 * `dev.<deviceId>.inbox.<kind>`. The token counts differ (3 vs 4), so `dev.*.*` sees only
 * device-to-platform traffic and `dev.<id>.inbox.>` only one device's inbox. Broker permissions
 * can then give each device exactly its own subjects.
 */
export const deviceSubjectRoot = 'dev';
export const messageKindPattern = '^[a-z][a-z0-9-]{0,31}$';
const kindRegExp = new RegExp(messageKindPattern);
const namespaceRegExp = new RegExp(namespacePattern);

function prefix(namespace: string): string {
  if (namespace === '') return deviceSubjectRoot;
  if (!namespaceRegExp.test(namespace)) throw new UnsafeSubjectToken('namespace', namespacePattern);
  return `${namespace}.${deviceSubjectRoot}`;
}

function checkDeviceId(deviceId: string): void {
  if (!isAggregateId(deviceId)) throw new UnsafeSubjectToken('device id', aggregateIdPattern);
}

function checkKind(kind: string): void {
  if (!kindRegExp.test(kind)) throw new UnsafeSubjectToken('message kind', messageKindPattern);
}

/** Device -> platform: `dev.<deviceId>.<kind>`. */
export function deviceSubject(deviceId: string, kind: string, namespace = ''): string {
  checkDeviceId(deviceId);
  checkKind(kind);
  return `${prefix(namespace)}.${deviceId}.${kind}`;
}

/** Platform -> device: `dev.<deviceId>.inbox.<kind>`. */
export function deviceInboxSubject(deviceId: string, kind: string, namespace = ''): string {
  checkDeviceId(deviceId);
  checkKind(kind);
  return `${prefix(namespace)}.${deviceId}.inbox.${kind}`;
}

/** What the platform subscribes to: every device's messages of one kind (or of all kinds). */
export function deviceUplinkFilter(kind?: string, namespace = ''): string {
  if (kind !== undefined) checkKind(kind);
  return `${prefix(namespace)}.*.${kind ?? '*'}`;
}

/** What one device subscribes to: its whole inbox. */
export function deviceInboxFilter(deviceId: string, namespace = ''): string {
  checkDeviceId(deviceId);
  return `${prefix(namespace)}.${deviceId}.inbox.>`;
}

export type DeviceDirection = 'uplink' | 'downlink';

export interface DeviceSubjectParts {
  deviceId: string;
  direction: DeviceDirection;
  kind: string;
}

/**
 * Splits a device-protocol subject; undefined when it is not one. The platform checks that the
 * subject's device id equals the signed envelope's before trusting either.
 */
export function parseDeviceSubject(subject: string, namespace = ''): DeviceSubjectParts | undefined {
  const root = prefix(namespace);
  if (!subject.startsWith(`${root}.`)) return undefined;
  const tokens = subject.slice(root.length + 1).split('.');
  const [deviceId, second, third] = tokens;
  if (!isAggregateId(deviceId)) return undefined;
  if (tokens.length === 2 && second !== undefined && kindRegExp.test(second))
    return { deviceId, direction: 'uplink', kind: second };
  if (tokens.length === 3 && second === 'inbox' && third !== undefined && kindRegExp.test(third)) {
    return { deviceId, direction: 'downlink', kind: third };
  }
  return undefined;
}
