import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DeviceIdentityImported, IdentityVerified, TelemetryReceived } from '@tunnelkey/contracts';
import { InMemoryEventStore } from '@tunnelkey/eventstore';
import { EmbeddedProjectionStore } from '@tunnelkey/projection-store';
import { EVENT_STORE, METRICS_REGISTRY, serviceHttpAdapter } from '@tunnelkey/messaging';
import { givenEvent } from '@tunnelkey/testing';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AuthGuard } from '../../auth/auth.guard.js';
import { TokenService } from '../../auth/token-service.js';
import { InMemoryTokenStore } from '../../auth/token-store.js';
import { configureHttp, gatewayAppOptions } from '../../configure-http.js';
import { READ_MODELS, TOKEN_SERVICE } from '../../tokens.js';
import { ReadModels } from '../../views/read-models.js';
import { QueriesController } from '../queries.controller.js';

// Issue 14, finding 10: a device's history is paged (limit at most 500, offset), never unbounded.
// Issue 19: it is answered from the device-history read model (kept by the gateway's ReadModels on
// the embedded store here), telemetry reports folded into one entry per target.
const logger = pino({ level: 'silent' });
const adminToken = 'history-test-admin-token-0123456789';

describe('GET /api/devices/{deviceId}/history: paged, from the read model', () => {
  const store = new InMemoryEventStore({ logger });
  const readModels = new ReadModels({ events: store, store: new EmbeddedProjectionStore(), logger });
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    // The same device imported 120 times (as repeated imports would): 120 events in its history.
    const key = Buffer.from('spki-of-d-1').toString('base64');
    const data = {
      deviceId: 'd-1',
      batchId: 'b-1',
      importId: 'import-1',
      source: 'json' as const,
      enrolmentPublicKey: key,
      enrolmentKeyDigest: createHash('sha256').update(key).digest('hex'),
    };
    for (let i = 0; i < 120; i++)
      await givenEvent(store, DeviceIdentityImported, 'd-1', data, {
        occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
      });
    // d-2: verified between two runs of telemetry from one target, and reporting to a second one.
    const d2 = { ...data, deviceId: 'd-2' };
    await givenEvent(store, DeviceIdentityImported, 'd-2', d2, { occurredAt: at(0) });
    for (let i = 1; i <= 30; i++)
      await givenEvent(store, TelemetryReceived, 'd-2', telemetry('t-1', i), { occurredAt: at(i) });
    const digest = createHash('sha256').update('nonce').digest('hex');
    await givenEvent(
      store,
      IdentityVerified,
      'd-2',
      { deviceId: 'd-2', challengeId: 'ch-1', nonceDigest: digest, enrolmentKeyDigest: data.enrolmentKeyDigest },
      { occurredAt: at(40) },
    );
    await givenEvent(store, TelemetryReceived, 'd-2', telemetry('t-2', 1), { occurredAt: at(50) });
    await readModels.catchUp();
    @Module({
      controllers: [QueriesController],
      providers: [
        { provide: EVENT_STORE, useValue: store },
        { provide: READ_MODELS, useValue: readModels },
        {
          provide: TOKEN_SERVICE,
          useValue: new TokenService({ store: new InMemoryTokenStore(), bootstrapAdminToken: adminToken, logger }),
        },
        { provide: METRICS_REGISTRY, useValue: new Registry() },
        AuthGuard,
      ],
    })
    class SliceModule {}
    app = await NestFactory.create(SliceModule, serviceHttpAdapter(), { ...gatewayAppOptions, logger: false });
    await configureHttp(app, { bodyLimit: '64kb' }, logger);
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
    await readModels.stop();
  });

  const history = async (query = '', deviceId = 'd-1') => {
    const response = await fetch(`${url}/api/devices/${deviceId}/history${query}`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown> & {
        events?: { occurredAt: string; type: string; reports?: number; data: Record<string, unknown> }[];
      },
    };
  };

  it('answers the first 100 events by default, with the total', async () => {
    const { status, body } = await history();
    expect(status).toBe(200);
    expect(body).toMatchObject({ deviceId: 'd-1', total: 120, limit: 100, offset: 0 });
    expect(body.events).toHaveLength(100);
  });

  it('pages with limit and offset, oldest first', async () => {
    const { body } = await history('?limit=10&offset=115');
    expect(body).toMatchObject({ total: 120, limit: 10, offset: 115 });
    expect(body.events!.map((e) => e.occurredAt)).toEqual(
      [115, 116, 117, 118, 119].map((s) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString()),
    );
  });

  it('refuses a page past the maximum (400 naming the parameter)', async () => {
    const { status, body } = await history('?limit=501');
    expect(status).toBe(400);
    expect(JSON.stringify(body)).toContain('query.limit');
  });

  it("folds a target's telemetry reports into one entry: the newest, at its time, with their count", async () => {
    const { status, body } = await history('', 'd-2');
    expect(status).toBe(200);
    expect(body.total).toBe(4);
    expect(body.events!.map((e) => [e.type, e.reports, e.data.targetId, e.occurredAt])).toEqual([
      ['DeviceIdentityImported', undefined, undefined, at(0).toISOString()],
      ['TelemetryReceived', 30, 't-1', at(30).toISOString()],
      ['IdentityVerified', undefined, undefined, at(40).toISOString()],
      ['TelemetryReceived', 1, 't-2', at(50).toISOString()],
    ]);
    expect(body.events![1]!.data).toMatchObject({ messagesTotal: 30, kind: 'periodic' });
  });

  it('answers 404 for a device without events', async () => {
    const { status } = await history('', 'd-unknown');
    expect(status).toBe(404);
  });
});

function at(second: number): Date {
  return new Date(Date.UTC(2026, 0, 2, 0, 0, second));
}

function telemetry(targetId: string, report: number) {
  return {
    deviceId: 'd-2',
    targetId,
    kind: report === 1 ? ('first' as const) : ('periodic' as const),
    messagesTotal: report,
    bytesTotal: report * 10,
    messagesInWindow: 1,
    windowStart: at(report - 1).toISOString(),
    firstMessageAt: at(1).toISOString(),
    lastMessageAt: at(report).toISOString(),
    lastTopic: 'devices/d-2/telemetry',
  };
}
