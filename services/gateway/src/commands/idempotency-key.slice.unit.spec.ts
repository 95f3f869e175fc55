import type { INestApplication } from '@nestjs/common';
import 'reflect-metadata';
import { pino } from 'pino';
import { TokenService } from '../auth/token-service.js';
import { InMemoryTokenStore } from '../auth/token-store.js';
import type { CommandPort } from './command-sender.js';
import { startCommandsApp } from './commands-app.test-helper.js';

// Issue 14, finding 8: an Idempotency-Key is bound to its caller and to the request it was first
// used for. Driven over HTTP on the command controller against a double of the bus.
const logger = pino({ level: 'silent' });
const adminToken = 'idempotency-test-admin-token-0123456789';
const admin = {
  tokenId: '0000000000000000',
  name: 'bootstrap-admin',
  role: 'admin' as const,
  ownerId: 'default',
  allOwners: true,
};

class CommandBusDouble implements CommandPort {
  readonly sent: { subject: string; payload: Record<string, unknown> }[] = [];
  async request<R>(subject: string, payload: unknown): Promise<R> {
    const sent = payload as Record<string, unknown>;
    this.sent.push({ subject, payload: sent });
    if (sent.source) return { accepted: 1, rejected: 0, rows: [{ row: 2, status: 'accepted' }] } as R;
    return { revocationId: `rv-${String(sent.deviceId)}`, devices: 1 } as R;
  }
}

describe('Idempotency-Key: bound to the caller and to the request', () => {
  const bus = new CommandBusDouble();
  const tokens = new TokenService({ store: new InMemoryTokenStore(), bootstrapAdminToken: adminToken, logger });
  let app: INestApplication;
  let url: string;
  let secondAdmin: string;
  let operator: string;

  beforeAll(async () => {
    ({ app, url } = await startCommandsApp({ bus, tokens, logger, namespace: 'idem', bodyLimit: '1mb' }));
    secondAdmin = (await tokens.issue('alice', 'admin', admin)).token;
    operator = (await tokens.issue('olivia', 'operator', admin)).token;
  });

  afterAll(() => app?.close());
  beforeEach(() => {
    bus.sent.length = 0;
  });

  const post = async (
    path: string,
    body: unknown,
    key: string,
    token = adminToken,
    contentType = 'application/json',
  ) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType, 'idempotency-key': key },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return {
      status: response.status,
      body: (await response.json()) as { commandId?: string; error: { code: string; message: string } },
    };
  };

  it('refuses a key reused for another device (422, clear message) and sends nothing for it', async () => {
    const first = await post('/api/devices/d-1/revocation', { reason: 'keyCompromise' }, 'revoke-once');
    expect(first.status).toBe(202);
    const reused = await post('/api/devices/d-2/revocation', { reason: 'keyCompromise' }, 'revoke-once');
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({ code: 'idempotency-key-reused' });
    expect(reused.body.error.message).toMatch(/already used for a different request/);
    expect(bus.sent.map((s) => s.payload.deviceId)).toEqual(['d-1']);
  });

  it('refuses a key reused with another body on the same route (422)', async () => {
    expect((await post('/api/devices/d-3/revocation', { reason: 'keyCompromise' }, 'k-body')).status).toBe(202);
    const reused = await post('/api/devices/d-3/revocation', { reason: 'superseded' }, 'k-body');
    expect(reused.status).toBe(422);
    expect(bus.sent).toHaveLength(1);
  });

  it('answers the same request under the same key as before, with the same command id', async () => {
    const first = await post('/api/devices/d-4/revocation', { reason: 'keyCompromise' }, 'k-same');
    const again = await post('/api/devices/d-4/revocation', { reason: 'keyCompromise' }, 'k-same');
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect({ ...again.body, correlationId: undefined }).toEqual({ ...first.body, correlationId: undefined });
    expect(bus.sent).toHaveLength(2);
    expect(bus.sent[1]!.payload.commandId).toBe(bus.sent[0]!.payload.commandId);
  });

  it("keeps another caller's use of the same key independent: its own command id, and it is sent", async () => {
    const mine = await post('/api/devices/d-5/revocation', { reason: 'keyCompromise' }, 'k-shared');
    const theirs = await post('/api/devices/d-6/revocation', { reason: 'keyCompromise' }, 'k-shared', secondAdmin);
    expect([mine.status, theirs.status]).toEqual([202, 202]);
    expect(bus.sent.map((s) => s.payload.deviceId)).toEqual(['d-5', 'd-6']);
    expect(theirs.body.commandId).not.toBe(mine.body.commandId);
    expect(bus.sent[1]!.payload.commandId).not.toBe(bus.sent[0]!.payload.commandId);
  });

  it('binds an identity import to its file: another file under the same key is refused before any part is sent', async () => {
    const file = 'deviceId,enrolmentPublicKey\nd-7,AAAA\n';
    const first = await post('/api/batches/b-1/identities', file, 'k-import', operator, 'text/csv');
    expect(bus.sent).toHaveLength(1);
    expect(first.status).toBe(200);
    const other = await post(
      '/api/batches/b-1/identities',
      'deviceId,enrolmentPublicKey\nd-8,BBBB\n',
      'k-import',
      operator,
      'text/csv',
    );
    expect(other.status).toBe(422);
    expect(bus.sent).toHaveLength(1);
    const retried = await post('/api/batches/b-1/identities', file, 'k-import', operator, 'text/csv');
    expect(retried.status).toBe(200);
    expect({ ...bus.sent[1]!.payload, correlationId: 'x' }).toEqual({ ...bus.sent[0]!.payload, correlationId: 'x' });
  });
});
