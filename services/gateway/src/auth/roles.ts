/** Roles in increasing power: each includes the rights of the ones before it. */
export const roles = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof roles)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (roles as readonly string[]).includes(value);
}

/** viewer: read; operator: provision and onboard; admin: revoke, targets, policies, tokens. */
export function allows(held: Role, required: Role): boolean {
  return roles.indexOf(held) >= roles.indexOf(required);
}

/** Who is calling: from a token, recorded as the actor of every command they issue. */
export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
  /** The owner (tenant) the token belongs to: it sees and acts on this owner's things only. */
  ownerId: string;
  /**
   * The platform-admin capability: sees and acts on every owner's things (and issues tokens for
   * any owner). Only the bootstrap admin has it unless one of its holders grants it explicitly.
   */
  allOwners: boolean;
}
