import { pino } from 'pino';
import { BadRequest, Forbidden, NotFound, Unauthenticated } from '../errors.js';
import { digestOf, matchesDigest, newToken, tokenIdOf } from './api-token.js';
import { allows } from './roles.js';
import { bootstrapTokenId, TokenService } from './token-service.js';
import { InMemoryTokenStore } from './token-store.js';

const logger = pino({ level: 'silent' });
const admin = { tokenId: 'a', name: 'alice', role: 'admin' as const, ownerId: 'default', allOwners: true };

describe('roles', () => {
  it('viewer < operator < admin', () => {
    expect(allows('viewer', 'viewer')).toBe(true);
    expect(allows('viewer', 'operator')).toBe(false);
    expect(allows('operator', 'operator')).toBe(true);
    expect(allows('operator', 'admin')).toBe(false);
    expect(allows('admin', 'operator')).toBe(true);
  });
});

describe('API tokens', () => {
  it('are 256-bit random, found by id, checked by digest', () => {
    const { id, token, sha256 } = newToken();
    expect(tokenIdOf(token)).toBe(id);
    expect(sha256).toBe(digestOf(token));
    expect(matchesDigest(token, sha256)).toBe(true);
    expect(matchesDigest(`${token.slice(0, -1)}x`, sha256)).toBe(false);
    expect(newToken().token).not.toBe(token);
  });
});

describe('TokenService', () => {
  it('stores only digests, authenticates issued tokens with their role, refuses revoked ones', async () => {
    const store = new InMemoryTokenStore();
    const service = new TokenService({ store, logger, bootstrapAdminToken: 'x'.repeat(32) });
    const { token, record } = await service.issue('olivia', 'operator', admin);
    expect(JSON.stringify(await store.list())).not.toContain(token);
    expect(record).not.toHaveProperty('sha256');
    await expect(service.authenticate(token)).resolves.toEqual({
      tokenId: record.id,
      name: 'olivia',
      role: 'operator',
      ownerId: 'default',
      allOwners: false,
    });
    await service.revoke(record.id, admin);
    await expect(service.authenticate(token)).rejects.toBeInstanceOf(Unauthenticated);
  });

  it('refuses a missing, malformed or unknown token', async () => {
    const service = new TokenService({ store: new InMemoryTokenStore(), logger });
    await expect(service.authenticate(undefined)).rejects.toThrow(/required/);
    await expect(service.authenticate('nonsense')).rejects.toBeInstanceOf(Unauthenticated);
    await expect(service.authenticate(newToken().token)).rejects.toBeInstanceOf(Unauthenticated);
  });

  it('accepts GATEWAY_ADMIN_TOKEN as admin without storing it', async () => {
    const store = new InMemoryTokenStore();
    const service = new TokenService({ store, logger, bootstrapAdminToken: 'y'.repeat(40) });
    await service.bootstrap();
    expect(await store.list()).toEqual([]);
    await expect(service.authenticate('y'.repeat(40))).resolves.toMatchObject({ role: 'admin' });
  });

  it('without GATEWAY_ADMIN_TOKEN creates one admin token at first start and shows it once', async () => {
    const store = new InMemoryTokenStore();
    const shown: string[] = [];
    const first = new TokenService({ store, logger, announce: (m) => shown.push(m) });
    await first.bootstrap();
    await new TokenService({ store, logger, announce: (m) => shown.push(m) }).bootstrap();
    expect(shown).toHaveLength(1);
    const token = /(tk_\S+)/.exec(shown[0]!)![1]!;
    await expect(first.authenticate(token)).resolves.toEqual({
      tokenId: bootstrapTokenId,
      name: 'bootstrap-admin',
      role: 'admin',
      ownerId: 'default',
      allOwners: true,
    });
  });

  it('rejects a bad name or role', async () => {
    const service = new TokenService({ store: new InMemoryTokenStore(), logger });
    await expect(service.issue('a b', 'viewer', admin)).rejects.toThrow(/name/);
    await expect(service.issue('bob', 'root', admin)).rejects.toThrow(/role/);
  });

  describe('SSE tickets', () => {
    it('carry the principal, expire, and cannot be forged', async () => {
      let now = new Date('2030-01-01T00:00:00Z');
      const service = new TokenService({
        store: new InMemoryTokenStore(),
        logger,
        clock: () => now,
        ticketTtlSeconds: 60,
      });
      const victor = { tokenId: 't1', name: 'victor', role: 'viewer' as const, ownerId: 'acme', allOwners: false };
      const { ticket } = service.ticket(victor);
      await expect(service.verifyTicket(ticket)).resolves.toEqual(victor);
      const [body] = ticket.split('.');
      const forged = Buffer.from(JSON.stringify({ t: 't1', n: 'victor', r: 'admin', e: 1e12 })).toString('base64url');
      await expect(service.verifyTicket(`${forged}.${ticket.split('.')[1]}`)).rejects.toBeInstanceOf(Unauthenticated);
      await expect(
        new TokenService({ store: new InMemoryTokenStore(), logger }).verifyTicket(ticket),
      ).rejects.toBeInstanceOf(Unauthenticated);
      expect(body).toBeDefined();
      now = new Date('2030-01-01T00:01:01Z');
      await expect(service.verifyTicket(ticket)).rejects.toThrow(/expired/);
    });

    it('stop working once the token behind them is revoked', async () => {
      const store = new InMemoryTokenStore();
      const service = new TokenService({ store, logger });
      const { record } = await service.issue('victor', 'viewer', admin);
      const { ticket } = service.ticket({
        tokenId: record.id,
        name: 'victor',
        role: 'viewer',
        ownerId: 'default',
        allOwners: false,
      });
      await service.revoke(record.id, admin);
      await expect(service.verifyTicket(ticket)).rejects.toThrow(/revoked/);
    });
  });

  describe('owners', () => {
    const store = new InMemoryTokenStore();
    const service = new TokenService({ store, logger });
    const acmeAdmin = { tokenId: 'acme-admin', name: 'ann', role: 'admin' as const, ownerId: 'acme', allOwners: false };

    it("a token belongs to its issuer's owner unless a platform admin names another", async () => {
      const own = await service.issue('olga', 'operator', acmeAdmin);
      expect(own.record).toMatchObject({ ownerId: 'acme' });
      await expect(service.authenticate(own.token)).resolves.toMatchObject({ ownerId: 'acme', allOwners: false });
      const named = await service.issue('gus', 'viewer', admin, { ownerId: 'globex' });
      await expect(service.authenticate(named.token)).resolves.toMatchObject({ ownerId: 'globex', allOwners: false });
    });

    it("an owner admin cannot issue another owner's token (404, nothing stored) nor grant allOwners (403)", async () => {
      const before = (await store.list()).length;
      await expect(service.issue('eve', 'admin', acmeAdmin, { ownerId: 'globex' })).rejects.toBeInstanceOf(NotFound);
      await expect(service.issue('eve', 'admin', acmeAdmin, { allOwners: true })).rejects.toBeInstanceOf(Forbidden);
      await expect(service.issue('eve', 'admin', acmeAdmin, { ownerId: 'no/slash' })).rejects.toBeInstanceOf(
        BadRequest,
      );
      expect((await store.list()).length).toBe(before);
    });

    it("lists only the caller's owner's tokens, and revokes no other owner's (404)", async () => {
      const globex = await service.issue('gina', 'viewer', admin, { ownerId: 'globex' });
      const listed = await service.list(acmeAdmin);
      expect(listed.length).toBeGreaterThan(0);
      expect(listed.every((record) => record.ownerId === 'acme')).toBe(true);
      expect((await service.list(admin)).some((record) => record.ownerId === 'globex')).toBe(true);
      await expect(service.revoke(globex.record.id, acmeAdmin)).rejects.toBeInstanceOf(NotFound);
      await expect(service.authenticate(globex.token)).resolves.toMatchObject({ ownerId: 'globex' });
    });

    it('a record stored before owners belongs to the default owner, never to every owner', async () => {
      const { id, token, sha256 } = newToken();
      await store.create({ id, name: 'old', role: 'admin', sha256, createdAt: 'x', createdBy: 'y' });
      await expect(service.authenticate(token)).resolves.toMatchObject({ ownerId: 'default', allOwners: false });
    });
  });
});
