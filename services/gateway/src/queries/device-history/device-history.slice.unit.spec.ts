import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DeviceIdentityImported } from '@tunnelkey/contracts';
import { InMemoryEventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE, METRICS_REGISTRY } from '@tunnelkey/messaging';
import { givenEvent } from '@tunnelkey/testing';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AuthGuard } from '../../auth/auth.guard.js';
import { TokenService } from '../../auth/token-service.js';
import { InMemoryTokenStore } from '../../auth/token-store.js';
import { configureHttp } from '../../configure-http.js';
import { READ_MODELS, TOKEN_SERVICE } from '../../tokens.js';
import { QueriesController } from '../queries.controller.js';

// Issue 14, finding 10: a device's history is paged (limit at most 500, offset), never unbounded.
const logger = pino({ level: 'silent' });
const adminToken = 'history-test-admin-token-0123456789';

describe('GET /api/devices/{deviceId}/history: paged', () => {
  const store = new InMemoryEventStore({ logger });
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
    @Module({
      controllers: [QueriesController],
      providers: [
        { provide: EVENT_STORE, useValue: store },
        { provide: READ_MODELS, useValue: {} },
        {
          provide: TOKEN_SERVICE,
          useValue: new TokenService({ store: new InMemoryTokenStore(), bootstrapAdminToken: adminToken, logger }),
        },
        { provide: METRICS_REGISTRY, useValue: new Registry() },
        AuthGuard,
      ],
    })
    class SliceModule {}
    app = await NestFactory.create(SliceModule, { logger: false });
    configureHttp(app, { bodyLimit: '64kb' }, logger);
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(() => app?.close());

  const history = async (query = '') => {
    const response = await fetch(`${url}/api/devices/d-1/history${query}`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown> & { events?: { occurredAt: string }[] },
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
});
