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
}
