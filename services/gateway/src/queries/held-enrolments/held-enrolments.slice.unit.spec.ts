import 'reflect-metadata';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EnrolmentApprovalRequested, EnrolmentKeysRequested, HeldEnrolmentDecided } from '@tunnelkey/contracts';
import { InMemoryEventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE, METRICS_REGISTRY, serviceHttpAdapter } from '@tunnelkey/messaging';
import { givenEvent } from '@tunnelkey/testing';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AuthGuard } from '../../auth/auth.guard.js';
import { TokenService } from '../../auth/token-service.js';
import { InMemoryTokenStore } from '../../auth/token-store.js';
import { configureHttp, gatewayAppOptions } from '../../configure-http.js';
import { READ_MODELS, TOKEN_SERVICE } from '../../tokens.js';
import { QueriesController } from '../queries.controller.js';

// Issue 14, finding 7: an operator sees which devices an open enrolment-key request held for
// approval, and what was decided, before approving or rejecting them.
const logger = pino({ level: 'silent' });
const adminToken = 'held-test-admin-token-0123456789abc';
const digest = (c: string) => c.repeat(64);
const key = Buffer.from('spki').toString('base64');

describe('GET /api/batches/{batchId}/held-enrolments', () => {
  const store = new InMemoryEventStore({ logger });
  let app: INestApplication;
  let url: string;
  let viewerToken: string;

  beforeAll(async () => {
    const expiresAt = '2026-01-01T01:00:00.000Z';
    await givenEvent(store, EnrolmentKeysRequested, 'b-1', { batchId: 'b-1', requestId: 'r-1', expiresAt });
    for (const [deviceId, reason] of [
      ['d-1', 'unattested'],
      ['d-2', 'attestation-invalid'],
      ['d-3', 'unattested'],
    ] as const)
      await givenEvent(store, EnrolmentApprovalRequested, 'b-1', {
        batchId: 'b-1',
        requestId: 'r-1',
        deviceId,
        enrolmentPublicKey: key,
        enrolmentKeyDigest: digest('a'),
        firmwareMeasurement: digest('b'),
        reason,
      });
    await givenEvent(store, HeldEnrolmentDecided, 'b-1', {
      batchId: 'b-1',
      requestId: 'r-1',
      deviceId: 'd-2',
      decision: 'rejected',
    });
    await givenEvent(store, HeldEnrolmentDecided, 'b-1', {
      batchId: 'b-1',
      requestId: 'r-1',
      deviceId: 'd-3',
      decision: 'approved',
    });
    const tokens = new TokenService({ store: new InMemoryTokenStore(), bootstrapAdminToken: adminToken, logger });
    @Module({
      controllers: [QueriesController],
      providers: [
        { provide: EVENT_STORE, useValue: store },
        { provide: READ_MODELS, useValue: {} },
        { provide: TOKEN_SERVICE, useValue: tokens },
        { provide: METRICS_REGISTRY, useValue: new Registry() },
        AuthGuard,
      ],
    })
    class SliceModule {}
    app = await NestFactory.create(SliceModule, serviceHttpAdapter(), { ...gatewayAppOptions, logger: false });
    await configureHttp(app, { bodyLimit: '64kb' }, logger);
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    viewerToken = (
      await tokens.issue('victor', 'viewer', {
        tokenId: 'bootstrap',
        name: 'admin',
        role: 'admin',
        ownerId: 'default',
        allOwners: true,
      })
    ).token;
  });
  afterAll(() => app?.close());

  const held = async (batchId: string, query = '', token = viewerToken) => {
    const response = await fetch(`${url}/api/batches/${batchId}/held-enrolments${query}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('lists the held devices of the batch in order, with the decision on each (a viewer may read it)', async () => {
    const { status, body } = await held('b-1');
    expect(status).toBe(200);
    expect(body).toMatchObject({ total: 3, offset: 0 });
    expect(body.items).toEqual([
      expect.objectContaining({ requestId: 'r-1', deviceId: 'd-1', reason: 'unattested', decision: 'pending' }),
      expect.objectContaining({ deviceId: 'd-2', reason: 'attestation-invalid', decision: 'rejected' }),
      expect.objectContaining({ deviceId: 'd-3', decision: 'approved', requestExpiresAt: '2026-01-01T01:00:00.000Z' }),
    ]);
    // The enrolment public key is not repeated: its digest identifies it.
    expect(JSON.stringify(body)).not.toContain(key);
  });

  it('filters by decision and pages', async () => {
    expect((await held('b-1', '?decision=pending')).body).toMatchObject({
      total: 1,
      items: [expect.objectContaining({ deviceId: 'd-1' })],
    });
    expect((await held('b-1', '?limit=1&offset=2')).body).toMatchObject({
      total: 3,
      items: [expect.objectContaining({ deviceId: 'd-3' })],
    });
  });

  it('refuses an unknown decision (400 naming it) and answers 404 for an unknown batch', async () => {
    const bad = await held('b-1', '?decision=maybe');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('query.decision');
    expect((await held('b-404')).status).toBe(404);
  });
});
