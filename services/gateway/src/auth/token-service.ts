import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { defaultOwnerId } from '@tunnelkey/contracts';
import { BadRequest, Forbidden, NotFound, Unauthenticated } from '../errors.js';
import { mayAccess } from '../owners/owner-access.js';
import { digestOf, matchesDigest, newToken, tokenIdOf, type TokenRecord } from './api-token.js';
import { isRole, type Principal, type Role } from './roles.js';
import type { TokenStore } from './token-store.js';

export interface TokenServiceOptions {
  store: TokenStore;
  /** GATEWAY_ADMIN_TOKEN: an operator-chosen admin token; only its digest is kept in memory. */
  bootstrapAdminToken?: string;
  /** Key for SSE tickets; random per process when absent (tickets then work on this instance only). */
  ticketKey?: Uint8Array;
  /** Seconds an SSE ticket stays valid. */
  ticketTtlSeconds?: number;
  clock?: () => Date;
  logger: Logger;
  /** Where a generated bootstrap token is shown once (default stdout, never the log). */
  announce?: (message: string) => void;
}

/** The reserved id of the bootstrap admin (GATEWAY_ADMIN_TOKEN or the generated first token). */
export const bootstrapTokenId = '0000000000000000';
const namePattern = /^[A-Za-z0-9_.@-]{1,64}$/;
const ownerPattern = /^[A-Za-z0-9_-]{1,128}$/;

/** The bootstrap admin: the default owner, with the platform-admin capability (every owner). */
const bootstrapPrincipal: Principal = {
  tokenId: bootstrapTokenId,
  name: 'bootstrap-admin',
  role: 'admin',
  ownerId: defaultOwnerId,
  allOwners: true,
};

/** What a token may be issued with besides its name and role. */
export interface TokenGrant {
  /** Default: the issuer's owner. Another owner only by a platform admin. */
  ownerId?: unknown;
  /** The platform-admin capability; only a platform admin grants it. */
  allOwners?: unknown;
}

/**
 * API tokens and roles: issue, list, revoke, authenticate, and short-lived SSE tickets. A
 * revoked token fails at once (records are read per request; the KV bucket is local to NATS).
 */
export class TokenService {
  readonly #envDigest: string | undefined;
  readonly #ticketKey: Uint8Array;
  readonly #ttl: number;
  readonly #clock: () => Date;

  constructor(private readonly options: TokenServiceOptions) {
    this.#envDigest = options.bootstrapAdminToken ? digestOf(options.bootstrapAdminToken) : undefined;
    this.#ticketKey = options.ticketKey ?? randomBytes(32);
    this.#ttl = options.ticketTtlSeconds ?? 60;
    this.#clock = options.clock ?? (() => new Date());
  }

  /**
   * At start: with GATEWAY_ADMIN_TOKEN nothing is stored. Otherwise the first gateway to start on
   * an empty store creates an admin token and shows it once; later starts find the record.
   */
  async bootstrap(): Promise<void> {
    if (this.#envDigest) return;
    const { token, sha256 } = newToken(bootstrapTokenId);
    const created = await this.options.store.create({
      id: bootstrapTokenId,
      name: 'bootstrap-admin',
      role: 'admin',
      ownerId: defaultOwnerId,
      allOwners: true,
      sha256,
      createdAt: this.#clock().toISOString(),
      createdBy: 'gateway',
    });
    if (!created) return;
    (this.options.announce ?? ((message) => process.stdout.write(`${message}\n`)))(
      `tunnelkey gateway: bootstrap admin token (shown once, store it now; create named tokens with it): ${token}`,
    );
    this.options.logger.info(
      { event: 'gateway.bootstrap_token_created' },
      'bootstrap admin token created and shown once on stdout',
    );
  }

  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw new Unauthenticated('an API token is required (Authorization: Bearer <token>)');
    if (this.#envDigest && matchesDigest(token, this.#envDigest)) return { ...bootstrapPrincipal };
    const id = tokenIdOf(token);
    const record = id ? await this.options.store.get(id) : undefined;
    if (!record || !matchesDigest(token, record.sha256) || record.revokedAt)
      throw new Unauthenticated('the API token is not valid');
    return principalOf(record);
  }

  async issue(
    name: unknown,
    role: unknown,
    by: Principal,
    grant: TokenGrant = {},
  ): Promise<{ token: string; record: PublicTokenRecord }> {
    if (typeof name !== 'string' || !namePattern.test(name))
      throw new BadRequest(`name must match ${namePattern.source}`, [{ path: '/name' }]);
    if (!isRole(role)) throw new BadRequest('role must be one of viewer, operator, admin', [{ path: '/role' }]);
    const ownerId = grant.ownerId ?? by.ownerId;
    if (typeof ownerId !== 'string' || !ownerPattern.test(ownerId))
      throw new BadRequest(`ownerId must match ${ownerPattern.source}`, [{ path: '/ownerId' }]);
    // Another owner's token is refused like anything else of another owner: as unknown.
    if (!mayAccess(by, ownerId)) throw new NotFound(`owner ${ownerId} is not known`);
    if (grant.allOwners !== undefined && typeof grant.allOwners !== 'boolean')
      throw new BadRequest('allOwners must be a boolean', [{ path: '/allOwners' }]);
    if (grant.allOwners === true && !by.allOwners)
      throw new Forbidden('only a platform admin (allOwners) grants the platform-admin capability');
    const { id, token, sha256 } = newToken();
    const record: TokenRecord = {
      id,
      name,
      role,
      ownerId,
      ...(grant.allOwners === true ? { allOwners: true as const } : {}),
      sha256,
      createdAt: this.#clock().toISOString(),
      createdBy: by.name,
    };
    await this.options.store.create(record);
    this.options.logger.info(
      {
        event: 'gateway.token_issued',
        tokenId: id,
        name,
        role,
        ownerId,
        allOwners: record.allOwners ?? false,
        by: by.name,
      },
      'API token issued',
    );
    return { token, record: publicRecord(record) };
  }

  /** The tokens of the caller's owner (a platform admin: every owner's). */
  async list(by: Principal): Promise<PublicTokenRecord[]> {
    return (await this.options.store.list())
      .map(publicRecord)
      .filter((record) => mayAccess(by, record.ownerId))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async revoke(id: string, by: Principal): Promise<PublicTokenRecord> {
    const record = await this.options.store.get(id);
    if (!record || !mayAccess(by, ownerOfRecord(record))) throw new NotFound(`token ${id} is not known`);
    const revoked = { ...record, revokedAt: record.revokedAt ?? this.#clock().toISOString() };
    await this.options.store.put(revoked);
    this.options.logger.info({ event: 'gateway.token_revoked', tokenId: id, by: by.name }, 'API token revoked');
    return publicRecord(revoked);
  }

  /**
   * A ticket for EventSource, which cannot send headers: HMAC-signed `<tokenId>.<role>.<expiry>`,
   * valid for a minute and only on /events. It carries no secret and expires before a URL in a
   * proxy log or browser history is worth anything.
   */
  ticket(principal: Principal): { ticket: string; expiresAt: string } {
    const expires = Math.floor(this.#clock().getTime() / 1000) + this.#ttl;
    const claims = {
      t: principal.tokenId,
      n: principal.name,
      r: principal.role,
      o: principal.ownerId,
      a: principal.allOwners,
      e: expires,
    };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { ticket: `${body}.${this.#sign(body)}`, expiresAt: new Date(expires * 1000).toISOString() };
  }

  async verifyTicket(ticket: string | undefined): Promise<Principal> {
    const [body, signature, extra] = (ticket ?? '').split('.');
    if (!body || !signature || extra !== undefined) throw new Unauthenticated('an SSE ticket or API token is required');
    const expected = Buffer.from(this.#sign(body), 'base64url');
    const given = Buffer.from(signature, 'base64url');
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      throw new Unauthenticated('the SSE ticket is not valid');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as {
      t: string;
      n: string;
      r: Role;
      o?: string;
      a?: boolean;
      e: number;
    };
    if (claims.e * 1000 < this.#clock().getTime()) throw new Unauthenticated('the SSE ticket has expired');
    // A token revoked since the ticket was issued must not keep a stream open.
    const record =
      claims.t === bootstrapTokenId && this.#envDigest ? undefined : await this.options.store.get(claims.t);
    if (record?.revokedAt) throw new Unauthenticated('the token behind this ticket was revoked');
    // A ticket signed before owners carried none: the default owner, never every owner.
    return {
      tokenId: claims.t,
      name: claims.n,
      role: claims.r,
      ownerId: claims.o ?? defaultOwnerId,
      allOwners: claims.a === true,
    };
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#ticketKey).update(body).digest('base64url');
  }
}

export type PublicTokenRecord = Omit<TokenRecord, 'sha256' | 'ownerId'> & { ownerId: string };

/** A record issued before owners belongs to the default owner (and never to every owner). */
function ownerOfRecord(record: TokenRecord): string {
  return record.ownerId ?? defaultOwnerId;
}

function principalOf(record: TokenRecord): Principal {
  return {
    tokenId: record.id,
    name: record.name,
    role: record.role,
    ownerId: ownerOfRecord(record),
    allOwners: record.allOwners === true,
  };
}

function publicRecord(record: TokenRecord): PublicTokenRecord {
  const { sha256: _digest, ...rest } = record;
  return { ...rest, ownerId: ownerOfRecord(record) };
}
