/**
 * The one thing onboarding asks of Mosquitto's dynamic security besides the admin user's own
 * connection: that it grants nothing by default (devices are unknown to it; the acl_file gives them
 * their rights, docs/decisions/0001).
 */
import { TargetRefusedError } from '../errors.js';
import type { DefaultAclType, DynsecCommand, DynsecResponse } from './dynsec-client.js';

/**
 * Devices get their rights from the acl_file only, so dynamic security (which knows the admin user
 * alone) must grant nothing by default. Returns the kinds of access the broker's default ACL
 * allows that it must not; throws on an answer it cannot read.
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
