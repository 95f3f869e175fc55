import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DeviceCertified, DeviceConnected, DeviceIdentityImported, DeviceRevoked } from '@tunnelkey/contracts';
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
import { listDevices } from './device-list.query.js';

// Issue 19: the device list is sorted on the server, the whole filtered fleet (not the page shown),
// by the fields an operator sorts by; ties by device id so pages neither overlap nor skip; an
// unknown field is a 400 naming the known ones. The owner's batch filter (`{ in: [...] }`) keeps
// working with a sort.
const logger = pino({ level: 'silent' });
const adminToken = 'device-list-test-admin-token-0123456789';
const devices = 150;
const idOf = (i: number) => `d-${String(i).padStart(3, '0')}`;
const batchOf = (i: number) => (i % 2 === 0 ? 'b-even' : 'b-odd');
/** Ten distinct times for 100 certified devices: many ties. */
const certifiedAt = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i % 10));
const isCertified = (i: number) => i % 3 !== 0;
const isRevoked = (i: number) => i % 25 === 1;

describe('GET /api/devices?sort=: the fleet in order, page after page', () => {
  const events = new InMemoryEventStore({ logger });
  const readModels = new ReadModels({ events, store: new EmbeddedProjectionStore(), logger });
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    const key = Buffer.from('spki').toString('base64');
    const enrolmentKeyDigest = createHash('sha256').update(key).digest('hex');
    // Imported in reverse id order, so the default (import) order is not the id order.
    for (let i = devices - 1; i >= 0; i--)
      await givenEvent(events, DeviceIdentityImported, idOf(i), {
        deviceId: idOf(i),
        batchId: batchOf(i),
        importId: 'import-1',
        source: 'json',
        enrolmentPublicKey: key,
        enrolmentKeyDigest,
      });
    for (let i = 0; i < devices; i++) {
      if (isCertified(i))
        await givenEvent(
          events,
          DeviceCertified,
          idOf(i),
          {
            deviceId: idOf(i),
            authorityId: 'issuing-acme',
            serialNumber: '0a0b',
            fingerprintSha256: enrolmentKeyDigest,
            notAfter: '2031-01-01T00:00:00.000Z',
          },
          { occurredAt: certifiedAt(i) },
        );
      if (isRevoked(i))
        await givenEvent(events, DeviceRevoked, idOf(i), {
          deviceId: idOf(i),
          revocationId: 'rv-1',
          reason: 'keyCompromise',
          revokedAt: '2026-02-01T00:00:00.000Z',
        });
    }
    await readModels.catchUp();
    @Module({
      controllers: [QueriesController],
      providers: [
        { provide: EVENT_STORE, useValue: events },
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

  const get = async (query: string) => {
    const response = await fetch(`${url}/api/devices?${query}`, { headers: { authorization: `Bearer ${adminToken}` } });
    return {
      status: response.status,
      body: (await response.json()) as {
        items: { deviceId: string; state: string; connection: string }[];
        total: number;
        error?: { message: string; details: { path: string }[] };
      },
    };
  };
  const detail = async (deviceId: string) => {
    const response = await fetch(`${url}/api/devices/${deviceId}`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  /** Every page of `size` in turn, the device ids joined. */
  const allPages = async (query: string, size: number) => {
    const ids: string[] = [];
    for (let offset = 0; ; offset += size) {
      const { status, body } = await get(`${query}&limit=${size}&offset=${offset}`);
      expect(status).toBe(200);
      ids.push(...body.items.map((d) => d.deviceId));
      if (offset + size >= body.total) return { ids, total: body.total };
    }
  };
  /** The reference order: by `key` (missing first ascending, last descending), ties by id ascending. */
  const expected = (indexes: number[], key: (i: number) => number | undefined, direction: 'asc' | 'desc') =>
    [...indexes]
      .sort((a, b) => {
        const x = key(a) ?? -Infinity;
        const y = key(b) ?? -Infinity;
        return x === y ? a - b : (x < y ? -1 : 1) * (direction === 'desc' ? -1 : 1);
      })
      .map(idOf);
  const every = Array.from({ length: devices }, (_, i) => i);
  const certifiedKey = (i: number) => (isCertified(i) ? certifiedAt(i).getTime() : undefined);

  it('sorts the whole fleet by certification time, descending, ties by device id, across pages', async () => {
    const { ids, total } = await allPages('sort=certifiedAt:desc', 40);
    expect(total).toBe(devices);
    expect(new Set(ids).size).toBe(devices);
    expect(ids).toEqual(expected(every, certifiedKey, 'desc'));
    // Never certified: last descending, first ascending.
    expect(ids.slice(-50).every((id) => Number(id.slice(2)) % 3 === 0)).toBe(true);
    expect((await allPages('sort=certifiedAt', 33)).ids).toEqual(expected(every, certifiedKey, 'asc'));
  });

  it('sorts by state in lifecycle order (Revoked furthest), then the steps taken, by device id, and keeps the import order by default', async () => {
    const byState = (await allPages('sort=state:desc', 50)).ids;
    // The milestone flags from the furthest down: Revoked first, and a revoked device that was
    // certified before one revoked before its certification (the steps it went through).
    const rank = (i: number) => (isRevoked(i) ? 4 : 0) + (isCertified(i) ? 2 : 0);
    expect(byState).toEqual(expected(every, rank, 'desc'));
    expect((await get('sort=state:desc&limit=1')).body.items[0]).toEqual(
      expect.objectContaining({ deviceId: 'd-001', state: 'Revoked' }),
    );
    expect((await allPages('sort=deviceId:desc', 64)).ids).toEqual([...every].reverse().map(idOf));
    expect((await allPages('sort=deviceId:asc', 64)).ids).toEqual(every.map(idOf));
    expect((await allPages('x=1', 64)).ids).toEqual([...every].reverse().map(idOf));
  });

  it('sorts within the filters: a batch, a state', async () => {
    const odd = every.filter((i) => i % 2 === 1);
    expect((await allPages('batchId=b-odd&sort=certifiedAt:desc', 20)).ids).toEqual(
      expected(odd, certifiedKey, 'desc'),
    );
    const certifiedOnly = every.filter((i) => isCertified(i) && !isRevoked(i));
    expect((await allPages('state=Certified&sort=certifiedAt', 30)).ids).toEqual(
      expected(certifiedOnly, certifiedKey, 'asc'),
    );
  });

  it("keeps an owner's batch filter ({ in: [...] }) with a sort", async () => {
    const page = await listDevices(
      readModels.store,
      { sort: { field: 'certifiedAt', direction: 'desc' }, limit: 500, offset: 0 },
      ['b-even'],
    );
    const even = every.filter((i) => i % 2 === 0);
    expect(page.total).toBe(even.length);
    expect(page.items.map((d) => d.deviceId)).toEqual(expected(even, certifiedKey, 'desc'));
  });

  it('follows live changes: a device connected now moves in the order; its kept entry and detail change', async () => {
    const before = (await get('sort=connectedAt:desc&limit=1')).body.items[0]!.deviceId;
    // Its entry is kept by the gateway now (kept-devices.ts): the change must drop it.
    expect((await get('q=d-003')).body.items[0]).toMatchObject({ deviceId: 'd-003', connection: 'never' });
    expect(await detail('d-003')).toMatchObject({ status: 200, body: { deviceId: 'd-003', connection: 'never' } });
    await givenEvent(events, DeviceConnected, idOf(3), {
      deviceId: idOf(3),
      targetId: 't-1',
      clientId: idOf(3),
      connectedAt: '2026-03-01T00:00:00.000Z',
      tlsProtocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
    });
    await readModels.catchUp();
    // Nobody had connected: the order was the id order; now d-003 is the latest connected.
    expect(before).toBe('d-000');
    expect((await get('sort=connectedAt:desc&limit=2')).body.items.map((d) => d.deviceId)).toEqual(['d-003', 'd-000']);
    expect((await get('sort=connection:desc&limit=1')).body.items[0]).toMatchObject({
      deviceId: 'd-003',
      connection: 'connected',
    });
    expect((await get('q=d-003')).body.items[0]).toMatchObject({ connection: 'connected' });
    expect(await detail('d-003')).toMatchObject({ body: { connection: 'connected', targets: [{ targetId: 't-1' }] } });
    expect((await detail('d-unknown')).status).toBe(404);
  });

  it('refuses an unknown sort field or direction (400 naming the parameter and the fields), and sort with targetId', async () => {
    for (const sort of ['colour', 'state:sideways', 'messagesTotal', ':desc']) {
      const { status, body } = await get(`sort=${encodeURIComponent(sort)}`);
      expect(status).toBe(400);
      expect(body.error!.message).toContain('query parameter sort must be <field>[:asc|:desc]');
      expect(body.error!.message).toContain('certifiedAt');
      expect(body.error!.details).toEqual([{ path: 'query.sort' }]);
    }
    const { status, body } = await get('targetId=t-1&sort=state');
    expect(status).toBe(400);
    expect(body.error!.message).toBe('query parameter sort cannot be combined with targetId');
  });
});
