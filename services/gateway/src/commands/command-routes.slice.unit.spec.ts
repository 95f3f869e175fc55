import type { INestApplication } from '@nestjs/common';
import 'reflect-metadata';
import { CommandFailed } from '@tunnelkey/messaging';
import { pino } from 'pino';
import { TokenService } from '../auth/token-service.js';
import { InMemoryTokenStore } from '../auth/token-store.js';
import { commandRoutes, pathParameters, type CommandRouteName } from './command-routes.js';
import type { CommandPort } from './command-sender.js';
import { startCommandsApp } from './commands-app.test-helper.js';

// Every command route, driven over HTTP on the table-driven controller, against an in-memory
// double of the command client: what reaches the bus (subject, payload, timeout), and the reply.
const logger = pino({ level: 'silent' });
const namespace = 'slice';
const adminToken = 'slice-test-admin-token-0123456789';

/** The bus as the sender sees it: records each request and answers what the test says. */
class CommandBusDouble implements CommandPort {
  readonly sent: { subject: string; payload: Record<string, unknown>; timeoutMs: number | undefined }[] = [];
  answer: (subject: string, payload: Record<string, unknown>) => unknown = () => ({ ok: true });

  async request<R>(subject: string, payload: unknown, options: { timeoutMs?: number } = {}): Promise<R> {
    const sent = payload as Record<string, unknown>;
    this.sent.push({ subject, payload: sent, timeoutMs: options.timeoutMs });
    return this.answer(subject, sent) as R;
  }
}

type SentRoute = Exclude<CommandRouteName, 'ImportIdentities'>;

/** A body and path per route; a route added to the table without one fails to typecheck. */
const samples: Record<SentRoute, { path: Record<string, string>; body: Record<string, unknown> }> = {
  DefineServerPolicy: {
    path: {},
    body: {
      policyId: 'fridges',
      name: 'Fridges',
      targetIds: ['t1'],
      topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish' }],
      certificateLifetimeDays: 365,
    },
  },
  RegisterTarget: {
    path: {},
    body: {
      targetId: 't1',
      kind: 'mosquitto',
      name: 'broker',
      host: 'broker.local',
      tlsPort: 8883,
      admin: { username: 'a', password: 'p' },
    },
  },
  CreateIssuingAuthority: { path: {}, body: { ownerId: 'acme' } },
  CreateBatch: {
    path: {},
    body: { batchId: 'b1', name: 'fridges', policyId: 'fridges', ownerId: 'acme', expectedSize: 10 },
  },
  RequestEnrolmentKeys: { path: { batchId: 'b1' }, body: { requestId: 'r1', ttlSeconds: 300 } },
  RegisterManufacturerKey: {
    path: { batchId: 'b1' },
    body: {
      keyId: 'acme-factory',
      publicKey:
        'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGx1Gd8yM2BoSUvW1ufUHOAmpGgbGkU+1m6C3Ny2VblvzjJb7Z8RGKbu2KrSBSwnWXqgOxzJ9xDlPFe2mdtBv3A==',
    },
  },
  DecideHeldEnrolments: { path: { batchId: 'b1', requestId: 'r1' }, body: { deviceIds: ['d1'], decision: 'approve' } },
  VerifyIdentity: { path: {}, body: { scope: { kind: 'batch', batchId: 'b1' } } },
  CertifyDevices: { path: {}, body: { scope: { kind: 'devices', deviceIds: ['d1', 'd2'] }, keyId: 'tls-0' } },
  OnboardBatch: { path: { batchId: 'b1' }, body: { targetIds: ['t1'] } },
  OnboardDevice: { path: { deviceId: 'd1' }, body: {} },
  RevokeDevice: { path: { deviceId: 'd1' }, body: { reason: 'keyCompromise' } },
  RevokeBatch: { path: { batchId: 'b1' }, body: { reason: 'superseded' } },
  SetRenewalPolicy: { path: { policyId: 'fridges' }, body: { renewAtShare: 0.5, certificateLifetimeSeconds: 3600 } },
  RenewCertificates: { path: {}, body: { scope: { kind: 'batch', batchId: 'b1' }, reason: 'key-exposure' } },
  GetRenewalProgress: { path: { operationId: 'op-1' }, body: {} },
  SetIntegrityPolicy: { path: { policyId: 'fridges' }, body: { heartbeatPeriodSeconds: 10, action: 'quarantine' } },
  ReleaseQuarantine: { path: { deviceId: 'd1' }, body: { note: 're-flashed' } },
  ListIntegrityAlerts: { path: {}, body: { limit: 50 } },
  DescribeDeviceIntegrity: { path: { deviceId: 'd1' }, body: {} },
  RegisterFirmwareProduct: { path: {}, body: { product: 'fridge-x200', name: 'Fridge', baselineVersion: '1.0.0' } },
  RegisterFirmware: {
    path: {},
    body: {
      firmwareId: 'fw-2',
      product: 'fridge-x200',
      version: '2.0.0',
      imageDigest: 'ab'.repeat(32),
      sizeBytes: 1024,
      objectName: 'upload-1',
    },
  },
  ListFirmware: { path: {}, body: {} },
  StartRollout: {
    path: {},
    body: {
      rolloutId: 'r-1',
      firmwareId: 'fw-2',
      batchIds: ['b1'],
      waves: [{ percent: 5 }, { percent: 25 }, { percent: 100 }],
      maxFailurePercent: 10,
    },
  },
  PauseRollout: { path: { rolloutId: 'r-1' }, body: {} },
  ResumeRollout: { path: { rolloutId: 'r-1' }, body: {} },
  AbortRollout: { path: { rolloutId: 'r-1' }, body: {} },
  DescribeRollout: { path: { rolloutId: 'r-1' }, body: {} },
  RegisterOwnerKey: {
    path: { ownerId: 'default' },
    body: {
      keyId: 'ops',
      publicKey:
        'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGx1Gd8yM2BoSUvW1ufUHOAmpGgbGkU+1m6C3Ny2VblvzjJb7Z8RGKbu2KrSBSwnWXqgOxzJ9xDlPFe2mdtBv3A==',
    },
  },
  TransferOwnership: {
    path: {},
    body: {
      transferId: 't-1',
      fromOwnerId: 'default',
      toOwnerId: 'globex',
      toBatchId: 'globex-fridges',
      devices: [
        {
          deviceId: 'd1',
          custody: {
            authorisation: { keyDigest: 'ab'.repeat(32), signature: `${'A'.repeat(86)}==` },
            acceptance: { keyDigest: 'cd'.repeat(32), signature: `${'A'.repeat(86)}==` },
            acknowledgement: { keyDigest: 'ef'.repeat(32), signature: `${'A'.repeat(86)}==` },
          },
        },
      ],
    },
  },
};

const urlPath = (path: string, params: Record<string, string>) =>
  path.replace(/\{([A-Za-z]+)\}/g, (_, name: string) => params[name]!);

describe('command routes: every route forwards its command to the owning service', () => {
  const bus = new CommandBusDouble();
  const tokens = new TokenService({ store: new InMemoryTokenStore(), bootstrapAdminToken: adminToken, logger });
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startCommandsApp({ bus, tokens, logger, namespace: namespace, bodyLimit: '1mb' }));
  });

  afterAll(() => app?.close());

  beforeEach(() => {
    bus.sent.length = 0;
    bus.answer = () => ({ ok: true });
  });

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('covers every route of the table', () => {
    expect(Object.keys(samples).sort()).toEqual(
      Object.keys(commandRoutes)
        .filter((name) => name !== 'ImportIdentities')
        .sort(),
    );
  });

  it.each(Object.entries(samples) as [SentRoute, (typeof samples)[SentRoute]][])(
    '%s: the body, path parameters, ids and actor go to its subject; the reply comes back',
    async (name, { path, body }) => {
      const route = commandRoutes[name];
      expect(Object.keys(path).sort()).toEqual(pathParameters(route.path).sort());
      bus.answer = () => ({ answered: name });
      const key = `key-${name}`;
      // The command id is derived from the caller's token and the key (two callers never share one).
      const commandId = `0000000000000000_${key}`;
      const reply = await post(urlPath(route.path, path), body, {
        'idempotency-key': key,
        'x-correlation-id': `corr-${name}`,
      });
      expect(bus.sent).toEqual([
        {
          subject: route.command.subject(namespace),
          payload: {
            ...body,
            ...path,
            commandId,
            correlationId: `corr-${name}`,
            actor: { kind: 'operator', id: 'bootstrap-admin' },
          },
          timeoutMs: route.timeoutMs,
        },
      ]);
      expect(reply).toEqual({
        status: route.status,
        body: { commandId, correlationId: `corr-${name}`, result: { answered: name } },
      });
    },
  );

  it('sets commandId, correlationId and actor itself, whatever the body says', async () => {
    const { body } = samples.CreateBatch;
    const forged = {
      ...body,
      commandId: 'forged',
      correlationId: 'forged',
      actor: { kind: 'operator', id: 'someone-else' },
    };
    const reply = await post(commandRoutes.CreateBatch.path, forged);
    const [sent] = bus.sent;
    expect(sent!.payload).toMatchObject({ actor: { kind: 'operator', id: 'bootstrap-admin' } });
    expect(sent!.payload.commandId).not.toBe('forged');
    expect(sent!.payload.correlationId).not.toBe('forged');
    expect(reply.body.commandId).toBe(sent!.payload.commandId);
  });

  it('refuses a body that breaks the contract before anything is sent (400 naming the path)', async () => {
    const reply = await post(commandRoutes.CreateBatch.path, { ...samples.CreateBatch.body, expectedSize: 'ten' });
    expect(reply.status).toBe(400);
    expect(JSON.stringify(reply.body)).toContain('/expectedSize');
    expect(bus.sent).toEqual([]);
  });

  it("maps the owning service's refusal to its HTTP status", async () => {
    bus.answer = () => {
      throw new CommandFailed('NOT_FOUND', 'batch b1 is not known');
    };
    const route = commandRoutes.OnboardBatch;
    const reply = await post(urlPath(route.path, { batchId: 'b1' }), {});
    expect(reply).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND', message: 'batch b1 is not known' } },
    });
  });

  it("splits an identity file into ImportIdentities calls, one report in the file's row numbers", async () => {
    bus.answer = (_subject, payload) => {
      const rows = (payload.source as { rows: unknown[] }).rows;
      return { accepted: rows.length, rejected: 0, rows: rows.map((_, i) => ({ row: i + 1, status: 'accepted' })) };
    };
    const rows = [{ deviceId: 'd1', enrolmentPublicKey: 'AAAA' }];
    const route = commandRoutes.ImportIdentities;
    const reply = await post(
      urlPath(route.path, { batchId: 'b1' }),
      { importId: 'file-1', rows },
      { 'idempotency-key': 'import-1' },
    );
    expect(bus.sent).toEqual([
      {
        subject: route.command.subject(namespace),
        payload: expect.objectContaining({
          batchId: 'b1',
          importId: 'file-1',
          source: { format: 'json', rows },
          commandId: '0000000000000000_import-1',
        }),
        timeoutMs: route.timeoutMs,
      },
    ]);
    expect(reply).toMatchObject({
      status: 200,
      body: { result: { batchId: 'b1', importId: 'file-1', accepted: 1, calls: 1 } },
    });
  });

  it("refuses a transfer without the old owner's authorisation at the gateway (400), nothing sent", async () => {
    const acknowledgement = { keyDigest: 'ab'.repeat(32), signature: `${'A'.repeat(86)}==` };
    const reply = await post('/api/transfers', {
      transferId: 't-1',
      fromOwnerId: 'default',
      toOwnerId: 'globex',
      toBatchId: 'globex-fridges',
      devices: [{ deviceId: 'd1', custody: { acceptance: acknowledgement, acknowledgement } }],
    });
    expect(reply.status).toBe(400);
    expect(JSON.stringify(reply.body)).toContain('authorisation');
    expect(bus.sent).toEqual([]);
  });

  it('needs a token, and the role the table names', async () => {
    const anonymous = await fetch(`${url}${commandRoutes.CreateBatch.path}`, { method: 'POST', body: '{}' });
    expect(anonymous.status).toBe(401);
    const admin = {
      tokenId: '0000000000000000',
      name: 'bootstrap-admin',
      role: 'admin' as const,
      ownerId: 'default',
      allOwners: true,
    };
    const { token: operatorToken } = await tokens.issue('olivia', 'operator', admin);
    const asOperator = { authorization: `Bearer ${operatorToken}` };
    expect((await post(commandRoutes.CreateBatch.path, samples.CreateBatch.body, asOperator)).status).toBe(200);
    expect((await post(commandRoutes.RevokeDevice.path.replace('{deviceId}', 'd1'), {}, asOperator)).status).toBe(403);
    expect(bus.sent).toHaveLength(1);
  });
});
