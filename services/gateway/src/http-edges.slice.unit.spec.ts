import 'reflect-metadata';
import { request as httpRequest } from 'node:http';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { METRICS_REGISTRY, serviceHttpAdapter } from '@tunnelkey/messaging';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AuthGuard } from './auth/auth.guard.js';
import { RateLimiter } from './auth/rate-limiter.js';
import { TokenService } from './auth/token-service.js';
import { InMemoryTokenStore } from './auth/token-store.js';
import { CommandSender, type CommandPort } from './commands/command-sender.js';
import { CommandsController } from './commands/commands.controller.js';
import { gatewayConfigFromEnv } from './config.js';
import { configureHttp, gatewayAppOptions } from './configure-http.js';
import { COMMAND_SENDER, RATE_LIMITS, TOKEN_SERVICE } from './tokens.js';

// Issue 14, finding 10: the gateway's edges. A small body before authentication, a large one only
// on the import route once the token is checked; a request rate per token and per client address.
const logger = pino({ level: 'silent' });
const adminToken = 'edges-test-admin-token-0123456789';
const admin = {
  tokenId: '0000000000000000',
  name: 'bootstrap-admin',
  role: 'admin' as const,
  ownerId: 'default',
  allOwners: true,
};

class CommandBusDouble implements CommandPort {
  readonly sent: Record<string, unknown>[] = [];
  async request<R>(_subject: string, payload: unknown): Promise<R> {
    this.sent.push(payload as Record<string, unknown>);
    const rows = (payload as { source?: { text?: string } }).source?.text?.trim().split('\n').length ?? 1;
    return { accepted: rows - 1, rejected: 0, rows: [] } as R;
  }
}

/** The commands controller behind the gateway's HTTP edges, with the command bus, tokens and (optionally) rate limits given. */
async function startApp(
  bus: CommandBusDouble,
  tokens: TokenService,
  limits?: { perToken: RateLimiter; anonymous: RateLimiter },
) {
  const providers = [
    { provide: COMMAND_SENDER, useValue: new CommandSender(bus, 'edges', logger) },
    { provide: TOKEN_SERVICE, useValue: tokens },
    { provide: METRICS_REGISTRY, useValue: new Registry() },
    ...(limits ? [{ provide: RATE_LIMITS, useValue: limits }] : []),
    AuthGuard,
  ];
  @Module({ controllers: [CommandsController], providers })
  class SliceModule {}
  const app = await NestFactory.create(SliceModule, serviceHttpAdapter(), { ...gatewayAppOptions, logger: false });
  // The gateway's configuration with no environment: its defaults.
  await configureHttp(app, gatewayConfigFromEnv({}), logger, limits as never);
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

/**
 * Sends the headers and the first 64 KB of a body declared `declaredBytes` long, and resolves with
 * the status the gateway answers before the rest is sent (a gateway that buffers the whole body
 * first never answers, and the test times out).
 */
function answerBeforeTheBody(url: string, path: string, declaredBytes: number, headers: Record<string, string> = {}) {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(declaredBytes), ...headers },
    });
    req.on('response', (response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      req.destroy();
    });
    req.on('error', (error) => reject(error));
    req.write(Buffer.alloc(64 * 1024, 0x20));
  });
}

describe('gateway edges: body limits', () => {
  const bus = new CommandBusDouble();
  const tokens = new TokenService({ store: new InMemoryTokenStore(), bootstrapAdminToken: adminToken, logger });
  let app: INestApplication;
  let url: string;
  let operator: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(bus, tokens));
    operator = (await tokens.issue('olivia', 'operator', admin)).token;
  });
  afterAll(() => app?.close());
  beforeEach(() => {
    bus.sent.length = 0;
  });

  it('refuses a body past the small default limit (413) on a command route, even with a valid token', async () => {
    const response = await fetch(`${url}/api/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ batchId: 'b1', name: 'x'.repeat(200 * 1024) }),
    });
    expect(response.status).toBe(413);
    expect(bus.sent).toEqual([]);
  });

  it('refuses a 2 MB body without a token (413): it is never parsed or kept', async () => {
    const response = await fetch(`${url}/api/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ batchId: 'b1', name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(response.status).toBe(413);
    expect(bus.sent).toEqual([]);
  });

  it('answers an unauthenticated identity file with 401 before its body is read', async () => {
    expect(await answerBeforeTheBody(url, '/api/batches/b1/identities', 8 * 1024 * 1024)).toBe(401);
    expect(
      await answerBeforeTheBody(url, '/api/batches/b1/identities', 8 * 1024 * 1024, {
        authorization: 'Bearer tk_0123456789abcdef_notavalidtokennotavalidtokennotavalidtoken1',
      }),
    ).toBe(401);
  });

  it('imports an identity file of several MB once authenticated', async () => {
    const lines = ['deviceId,enrolmentPublicKey'];
    for (let i = 0; i < 9_000; i++) lines.push(`device-${i},${'A'.repeat(400)}`);
    const csv = `${lines.join('\n')}\n`;
    expect(csv.length).toBeGreaterThan(3 * 1024 * 1024);
    const response = await fetch(`${url}/api/batches/b1/identities?importId=big`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'text/csv' },
      body: csv,
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { result: { accepted: number } }).result.accepted).toBe(9_000);
    expect(bus.sent.length).toBeGreaterThan(1);
  });
});

describe('gateway edges: route parameters', () => {
  const bus = new CommandBusDouble();
  const tokens = new TokenService({ store: new InMemoryTokenStore(), bootstrapAdminToken: adminToken, logger });
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(bus, tokens));
  });
  afterAll(() => app?.close());

  const revoke = (deviceId: string, slash = '') =>
    fetch(`${url}/api/devices/${deviceId}/revocation${slash}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'keyCompromise' }),
    });

  it('takes an id of 128 characters (the longest) in the path, and refuses a longer one with 400, not the router’s 414', async () => {
    bus.sent.length = 0;
    expect((await revoke('d'.repeat(128))).status).toBe(202);
    expect(bus.sent).toMatchObject([{ deviceId: 'd'.repeat(128) }]);
    const longer = await revoke('d'.repeat(129));
    expect(longer.status).toBe(400);
    expect(bus.sent).toHaveLength(1);
  });

  it('answers a path with a trailing slash as the path without', async () => {
    expect((await revoke('d-1', '/')).status).toBe(202);
  });
});

/** The status of a GET with these headers (fetch adds `Cache-Control: no-cache` to a conditional request). */
function conditionalGet(url: string, headers: Record<string, string>) {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(url, { headers });
    req.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe("gateway edges: the console's files", () => {
  const tokens = new TokenService({ store: new InMemoryTokenStore(), bootstrapAdminToken: adminToken, logger });
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(new CommandBusDouble(), tokens));
  });
  afterAll(() => app?.close());

  it.each(['/', '/console/console.css', '/console/js/app.js', '/console/vendor/uPlot.esm.js'])(
    '%s: served with the security headers, then 304 for a conditional GET of the same version',
    async (path) => {
      const first = await fetch(`${url}${path}`);
      expect(first.status).toBe(200);
      expect((await first.text()).length).toBeGreaterThan(0);
      expect(first.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(first.headers.get('cache-control')).toBe('no-cache');
      const etag = first.headers.get('etag');
      const lastModified = first.headers.get('last-modified');
      expect(etag).toBeTruthy();
      expect(lastModified).toBeTruthy();
      expect(await conditionalGet(`${url}${path}`, { 'if-none-match': etag! })).toBe(304);
      expect(await conditionalGet(`${url}${path}`, { 'if-modified-since': lastModified! })).toBe(304);
      expect(await conditionalGet(`${url}${path}`, { 'if-none-match': '"another"' })).toBe(200);
    },
  );

  it('serves nothing else from the folder or node_modules', async () => {
    expect((await fetch(`${url}/console/../package.json`)).status).toBe(404);
    expect((await fetch(`${url}/console/vendor/uPlot.cjs.js`)).status).toBe(404);
  });
});

describe('gateway edges: request rate per token and per client address', () => {
  const bus = new CommandBusDouble();
  const tokens = new TokenService({ store: new InMemoryTokenStore(), bootstrapAdminToken: adminToken, logger });
  // A clock that does not move: the buckets refill only when the test says so.
  let now = 0;
  const limits = {
    perToken: new RateLimiter({ ratePerSecond: 1, burst: 2, clock: () => now }),
    anonymous: new RateLimiter({ ratePerSecond: 1, burst: 2, clock: () => now }),
  };
  let app: INestApplication;
  let url: string;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(bus, tokens, limits));
    alice = (await tokens.issue('alice', 'operator', admin)).token;
    bob = (await tokens.issue('bob', 'operator', admin)).token;
  });
  afterAll(() => app?.close());

  const onboard = (token?: string) =>
    fetch(`${url}/api/devices/d1/onboarding`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: '{}',
    });

  it("answers 429 with Retry-After past a token's rate; another token is not affected", async () => {
    expect((await onboard(alice)).status).toBe(202);
    expect((await onboard(alice)).status).toBe(202);
    const throttled = await onboard(alice);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect(((await throttled.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_REQUESTS');
    expect((await onboard(bob)).status).toBe(202);
    now += 1000;
    expect((await onboard(alice)).status).toBe(202);
  });

  it('limits requests without a token per client address', async () => {
    expect((await onboard()).status).toBe(401);
    expect((await onboard()).status).toBe(401);
    const throttled = await onboard();
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');
  });

  it("does not count the console's own files against a client address (a page load is some forty)", async () => {
    now += 10_000; // a full bucket
    for (let i = 0; i < 10; i++) expect((await fetch(`${url}/console/js/app.js`)).status).toBe(200);
    expect((await fetch(`${url}/`)).status).toBe(200);
    // The address's budget is untouched: two requests without a token, then 429.
    expect((await onboard()).status).toBe(401);
    expect((await onboard()).status).toBe(401);
    expect((await onboard()).status).toBe(429);
  });

  it('keeps a bounded number of buckets', () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, maxKeys: 3, clock: () => 0 });
    for (const key of ['a', 'b', 'c', 'd', 'e']) limiter.take(key);
    expect(limiter.size).toBe(3);
  });
});
