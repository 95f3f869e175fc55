/**
 * Quarantine at Mosquitto 2.0: the device keeps its session but may publish only to its quarantine
 * topic. Dynamic security gets a client named after the device (its certificate CN, which is its
 * username on the device listener) with a role of its own: allow its quarantine topic, deny every
 * other publish. An explicit dynamic-security deny wins over the acl_file's patterns and the broker
 * checks it on every PUBLISH of the live session, so neither a reconnect nor a reload is needed
 * (measured on 2.0.11: mosquitto-quarantine.int.spec.ts). One request per call: the broker
 * rewrites its JSON once, and that file grows with the devices in quarantine, never with the fleet.
 */
import { describeError } from '@tunnelkey/errors';
import type { DeviceOperationOutcome } from '../target-port/onboarding-target.js';
import { quarantineTopic } from '../target-port/topic-plan.js';
import type { DynsecAcl, DynsecClient, DynsecCommand, DynsecResponse } from './dynsec-client.js';

const quarantineRoleOf = (deviceId: string) => `tk-quarantine-${deviceId}`;

const quarantineAcls = (deviceId: string): DynsecAcl[] => [
  { acltype: 'publishClientSend', topic: quarantineTopic(deviceId), allow: true, priority: 1 },
  { acltype: 'publishClientSend', topic: '#', allow: false, priority: 0 },
];

/**
 * Role, client, then the role's ACLs: the first quarantine creates both (already existing is no
 * error), a later one only sets the ACLs again. Changing a role's ACLs leaves its clients
 * connected; deleting a client, or changing its roles, would kick it off the broker.
 */
function quarantineCommands(deviceId: string): DynsecCommand[] {
  const rolename = quarantineRoleOf(deviceId);
  return [
    { command: 'createRole', rolename },
    { command: 'createClient', username: deviceId, roles: [{ rolename }] },
    { command: 'modifyRole', rolename, acls: quarantineAcls(deviceId) },
  ];
}

/** The client and its role stay, empty: a release must not kick the device off either. */
const releaseCommands = (deviceId: string): DynsecCommand[] => [
  { command: 'modifyRole', rolename: quarantineRoleOf(deviceId), acls: [] },
];

/** Restricts each device to its quarantine topic; a device already quarantined stays so (a retry). */
export function quarantineDevices(
  dynsec: DynsecClient,
  deviceIds: readonly string[],
): Promise<DeviceOperationOutcome[]> {
  return perDevice(dynsec, deviceIds, quarantineCommands, ['Role already exists', 'Client already exists']);
}

/** Lifts each device's quarantine: its client and role go, the acl_file decides again. */
export function releaseDevices(dynsec: DynsecClient, deviceIds: readonly string[]): Promise<DeviceOperationOutcome[]> {
  return perDevice(dynsec, deviceIds, releaseCommands, ['Role not found']);
}

async function perDevice(
  dynsec: DynsecClient,
  deviceIds: readonly string[],
  commandsOf: (deviceId: string) => DynsecCommand[],
  alreadyDone: readonly string[],
): Promise<DeviceOperationOutcome[]> {
  if (deviceIds.length === 0) return [];
  let responses: DynsecResponse[];
  try {
    responses = await dynsec.execute(deviceIds.flatMap(commandsOf));
  } catch (error) {
    return deviceIds.map((deviceId) => ({
      ok: false as const,
      deviceId,
      reason: 'target-unreachable' as const,
      detail: describeError(error),
    }));
  }
  const each = responses.length / deviceIds.length;
  return deviceIds.map((deviceId, index) => {
    const failed = responses
      .slice(index * each, (index + 1) * each)
      .find((response) => response.error !== undefined && !alreadyDone.includes(response.error));
    if (!failed) return { ok: true as const, deviceId };
    return {
      ok: false as const,
      deviceId,
      reason: 'target-refused' as const,
      detail: (failed.error ?? '').slice(0, 200),
    };
  });
}
