/**
 * What the onboarding service asks of Mosquitto's dynamic security, as plain data: one role per
 * device holding exactly its policy's rights (Mosquitto 2.0.11 does not substitute %u/%c in dynsec
 * ACLs, so a shared per-policy role cannot express "only under your own prefix"), and one client
 * per device whose username is the device id (use_identity_as_username makes the certificate CN
 * the username; there is no password, so the client cannot log in any other way).
 */
import { createHash } from 'node:crypto';
import { TargetRefusedError } from '../errors.js';
import { deviceTopicPlan, type DeviceTopicPlan, type TopicRightSpec } from '../target-port/topic-plan.js';
import type { DefaultAclType, DynsecAcl, DynsecCommand, DynsecResponse } from './dynsec-client.js';

/** Role names are event fields (AggregateId): short, subject-safe, one per device. */
export function deviceRoleName(deviceId: string): string {
  return deviceId.length <= 120
    ? `role-${deviceId}`
    : `role-${createHash('sha256').update(deviceId).digest('hex').slice(0, 48)}`;
}

export function roleAcls(plan: DeviceTopicPlan): DynsecAcl[] {
  return plan.rights.flatMap((right) => [
    ...(right.publish ? [{ acltype: 'publishClientSend' as const, topic: right.topic, allow: true }] : []),
    ...(right.subscribe
      ? // Receiving is allowed by the default ACL access; an explicit entry would only grow the
        // config that 2.0.11 rewrites after every command.
        [{ acltype: 'subscribePattern' as const, topic: right.topic, allow: true }]
      : []),
  ]);
}

export interface DevicePlan {
  deviceId: string;
  roleName: string;
  plan: DeviceTopicPlan;
  acls: DynsecAcl[];
}

export function planDevice(deviceId: string, topicRights: readonly TopicRightSpec[]): DevicePlan {
  const plan = deviceTopicPlan(topicRights, deviceId);
  return { deviceId, roleName: deviceRoleName(deviceId), plan, acls: roleAcls(plan) };
}

/** First pass: create role and client (two commands per device). */
export const createDeviceCommands = (device: DevicePlan): DynsecCommand[] => [
  { command: 'createRole', rolename: device.roleName, acls: device.acls },
  { command: 'createClient', username: device.deviceId, roles: [{ rolename: device.roleName }] },
];

/**
 * Second pass for what already existed: converge the role's ACLs and the client's role and state.
 * The role's ACLs are replaced, not added to (`modifyRole` with `acls`, one command): after a
 * policy change the device holds the new rights and none of the old ones.
 */
export function convergeDeviceCommands(
  device: DevicePlan,
  roleExisted: boolean,
  clientExisted: boolean,
): DynsecCommand[] {
  return [
    ...(roleExisted ? [{ command: 'modifyRole', rolename: device.roleName, acls: device.acls } as const] : []),
    ...(clientExisted
      ? [
          // 2.0.11 answers "Internal error" to adding a role the client already has; removing it first
          // is safe: one request is handled in one turn of the broker's loop, so no publish sees the gap.
          { command: 'removeClientRole', username: device.deviceId, rolename: device.roleName } as const,
          { command: 'addClientRole', username: device.deviceId, rolename: device.roleName } as const,
          { command: 'enableClient', username: device.deviceId } as const,
        ]
      : []),
  ];
}

/**
 * Disabling kicks a live connection (first: it is what cuts a revoked device off), but with
 * certificate identities Mosquitto skips password auth (where dynsec checks `disabled`), so a
 * disabled client could reconnect with its rights intact. Removing its role as well leaves a
 * reconnect with no rights at all (dynsec checks ACLs on every publish and subscribe).
 */
/**
 * Cutting a device off: its rights go (removeClientRole). `disableClient` is sent only when its live
 * session could not be dropped otherwise: disabling is what makes dynamic security kick a session,
 * and it refuses nothing more (Mosquitto 2.0.11 admits a disabled client that logs in with its
 * certificate; the CRL is what refuses a revoked one), while each command costs a JSON rewrite.
 */
export const disableDeviceCommands = (
  deviceId: string,
  options: { sessionDropped?: boolean } = {},
): DynsecCommand[] => [
  ...(options.sessionDropped ? [] : [{ command: 'disableClient' as const, username: deviceId }]),
  { command: 'removeClientRole', username: deviceId, rolename: deviceRoleName(deviceId) },
];

export const enableDeviceCommands = (deviceId: string): DynsecCommand[] => [
  { command: 'removeClientRole', username: deviceId, rolename: deviceRoleName(deviceId) },
  { command: 'addClientRole', username: deviceId, rolename: deviceRoleName(deviceId) },
  { command: 'enableClient', username: deviceId },
];

export const deleteDeviceCommands = (deviceId: string): DynsecCommand[] => [
  { command: 'deleteClient', username: deviceId },
  { command: 'deleteRole', rolename: deviceRoleName(deviceId) },
];

export const alreadyExists = (response: DynsecResponse | undefined): boolean =>
  /already exists/i.test(response?.error ?? '');
export const notFound = (response: DynsecResponse | undefined): boolean => /not found/i.test(response?.error ?? '');
/** An ACL or role the client already has is what we wanted. */
export const alreadyInPlace = (response: DynsecResponse | undefined): boolean =>
  alreadyExists(response) || /already (has|in)/i.test(response?.error ?? '');

/** (device, step) pairs, step-major: each device's commands stay in their order. */
export function phaseOrder(perDevice: readonly (readonly unknown[])[]): { device: number; step: number }[] {
  const order: { device: number; step: number }[] = [];
  const steps = Math.max(0, ...perDevice.map((commands) => commands.length));
  for (let step = 0; step < steps; step++)
    perDevice.forEach((commands, device) => step < commands.length && order.push({ device, step }));
  return order;
}

/**
 * Revocation and onboarding rely on deny by default: a client no role allows (a certificate never
 * onboarded, a device whose role was removed) may neither publish nor subscribe. Returns the kinds
 * of access the broker's default ACL allows that it must not; throws on an answer it cannot read.
 */
export function unsafeDefaultAccess(response: DynsecResponse | undefined): DefaultAclType[] {
  const acls = (response?.data as { acls?: { acltype?: unknown; allow?: unknown }[] } | undefined)?.acls;
  if (response?.error || !Array.isArray(acls))
    throw new TargetRefusedError('the default ACL access of the broker cannot be read', {
      error: (response?.error ?? 'no acls in the answer').slice(0, 200),
    });
  const mustDeny: DefaultAclType[] = ['publishClientSend', 'subscribe'];
  // An access the answer does not list is taken as allowed: set it to deny rather than guess.
  return mustDeny.filter((acltype) => acls.find((acl) => acl.acltype === acltype)?.allow !== false);
}

export const denyByDefaultCommand = (acltypes: readonly DefaultAclType[]): DynsecCommand => ({
  command: 'setDefaultACLAccess',
  acls: acltypes.map((acltype) => ({ acltype, allow: false })),
});
