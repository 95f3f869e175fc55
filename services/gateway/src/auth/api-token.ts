import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from './roles.js';

/**
 * API tokens: `tk_<id>_<secret>`, 256 random bits of secret. The id finds the record; the secret
 * is checked by comparing SHA-256 digests in constant time. Only the digest is stored: a
 * high-entropy token needs no slow hash, and a leaked store yields no usable token.
 */
export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  /** The owner the token belongs to; absent on records issued before owners: the default owner. */
  ownerId?: string;
  /** Platform admin: every owner's things (granted explicitly, by a holder of it). */
  allOwners?: true;
  /** SHA-256 of the whole token, hex. */
  sha256: string;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
}

const tokenPattern = /^tk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function newToken(id = randomBytes(8).toString('hex')): { id: string; token: string; sha256: string } {
  const token = `tk_${id}_${randomBytes(32).toString('base64url')}`;
  return { id, token, sha256: digestOf(token) };
}

export function digestOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The record id a presented token names, or undefined when it is not in our format. */
export function tokenIdOf(token: string): string | undefined {
  return tokenPattern.exec(token)?.[1];
}

/** Constant-time comparison of a presented token with a stored digest. */
export function matchesDigest(token: string, sha256: string): boolean {
  const presented = createHash('sha256').update(token, 'utf8').digest();
  const stored = Buffer.from(sha256, 'hex');
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
