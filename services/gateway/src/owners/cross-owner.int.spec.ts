/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are JSON; the assertions check their shapes */
/**
 * Every route with another owner's token (real NATS): owner acme's policy, target, batch, device
 * and renewal are in the log; globex's admin names them on every route the gateway serves. Owned
 * routes answer 404 as for an unknown thing and send nothing (no command reaches the bus: a
 * subscriber on `cmd.>` sees none); filtered routes answer globex's (nothing of acme's); the shared
 * firmware catalog's writes need the platform-admin capability (403). Rollout routes are left out:
 * a rollout's owner comes from the OTA service, which this spec does not run.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Subscription } from '@nats-io/transport-node';
import { type EventEnvelope } from '@tunnelkey/contracts';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';
import { commandRoutes, routePath, type CommandRouteName } from '../commands/command-routes.js';
import { queryRoutes } from '../queries/query-routes.js';
import { startGateway, type RunningGateway } from '../start-gateway.js';
import { commandOwnership, queryOwnership } from './route-ownership.js';

const nats = natsFixture({ prefix: 'gwxo' });
const logger = pino({ level: 'silent' });
const adminToken = 'cross-owner-admin-token-0123456789ab';
const digest = 'b'.repeat(64);
const signature = `${'A'.repeat(86)}==`;

const acme = {
  ownerId: 'acme',
  policyId: 'acme-policy',
  targetId: 'acme-broker',
  batchId: 'acme-batch',
  deviceId: 'd-acme-1',
  operationId: 'acme-renewals',
  requestId: 'acme-request',
  rolloutId: 'acme-rollout',
};

const envelope = (
  type: string,
  version: number,
  aggregateId: string,
  data: Record<string, unknown>,
): EventEnvelope => ({
  type,
  version,
  id: randomUUID(),
  aggregateId,
  occurredAt: new Date().toISOString(),
  causationId: randomUUID(),
  correlationId: randomUUID(),
  data,
});

/** A body naming acme's things, per command (valid where it matters: the owner check runs first anyway). */
const bodies: Partial<Record<CommandRouteName, Record<string, unknown>>> = {
  DefineServerPolicy: {
    policyId: acme.policyId,
    name: 'taken over',
    targetIds: [acme.targetId],
    topicRights: [{ topic: 'x/{deviceId}', access: 'publish' }],
    certificateLifetimeDays: 1,
    ownerId: acme.ownerId,
  },
  RegisterTarget: {
    targetId: acme.targetId,
    kind: 'mosquitto',
    name: 'x',
    host: 'h.example',
    tlsPort: 8883,
    ownerId: acme.ownerId,
    admin: { username: 'a', passwordFile: 'p' },
  },
  CreateIssuingAuthority: { ownerId: acme.ownerId },
  CreateBatch: { batchId: acme.batchId, name: 'x', policyId: acme.policyId, ownerId: acme.ownerId, expectedSize: 1 },
  ImportIdentities: { importId: 'i-1', source: { format: 'json', rows: [] } },
  RequestEnrolmentKeys: { requestId: 'r-1', ttlSeconds: 300, deviceIds: [acme.deviceId] },
  RegisterManufacturerKey: { keyId: 'k', publicKey: 'AAAA' },
  DecideHeldEnrolments: { deviceIds: [acme.deviceId], decision: 'approve' },
  VerifyIdentity: { scope: { kind: 'device', deviceId: acme.deviceId } },
  CertifyDevices: { scope: { kind: 'batch', batchId: acme.batchId }, keyId: 'tls-0' },
  OnboardBatch: {},
  OnboardDevice: {},
  RevokeDevice: { reason: 'keyCompromise' },
  RevokeBatch: { reason: 'keyCompromise' },
  SetRenewalPolicy: { renewAtShare: 0.5 },
  RenewCertificates: { scope: { kind: 'devices', deviceIds: [acme.deviceId] } },
  GetRenewalProgress: {},
  SetIntegrityPolicy: { heartbeatPeriodSeconds: 10 },
  ReleaseQuarantine: {},
  DescribeDeviceIntegrity: {},
  RegisterOwnerKey: { keyId: 'k', publicKey: 'AAAA' },
  StartRollout: {
    rolloutId: 'globex-rollout',
    firmwareId: 'fw-2',
    batchIds: [acme.batchId],
    waves: [{ percent: 100 }],
    maxFailurePercent: 10,
  },
  TransferOwnership: {
    transferId: 't-1',
    fromOwnerId: acme.ownerId,
    toOwnerId: 'globex',
    toBatchId: 'globex-batch',
    devices: [
      {
        deviceId: acme.deviceId,
        custody: {
          authorisation: { keyDigest: digest, signature },
          acceptance: { keyDigest: digest, signature },
          acknowledgement: { keyDigest: digest, signature },
        },
      },
    ],
  },
};

const fill = (path: string) =>
  routePath(path).replace(/:([A-Za-z]+)/g, (_, name: string) => (acme as Record<string, string>)[name] ?? name);

describe("every route with another owner's token (real NATS)", () => {
  let gateway: RunningGateway;
  let globexToken: string;
  let commands: Subscription;
  const sent: string[] = [];

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as any) : undefined };
  };

  beforeAll(async () => {
    await nats.setup();
    const namespace = nats.subNamespace();
    const events = new JetStreamEventStore(nats.nc, { namespace, logger });
    await events.ensureStreams(['registry', 'ca', 'onboarding']);
    const append = (context: 'registry' | 'ca' | 'onboarding', aggregate: string, event: EventEnvelope) =>
      events.append({ context, aggregate, id: event.aggregateId }, [event], {
        expectedVersion: 'any',
        messageId: event.id,
      });
    await append(
      'onboarding',
      'target',
      envelope('TargetRegistered', 2, acme.targetId, {
        targetId: acme.targetId,
        kind: 'mosquitto',
        name: 'acme broker',
        host: 'broker.acme.example',
        tlsPort: 8883,
        credentialsRef: 'acme-broker-admin',
        ownerId: acme.ownerId,
      }),
    );
    await append(
      'registry',
      'policy',
      envelope('ServerPolicyDefined', 2, acme.policyId, {
        policyId: acme.policyId,
        name: 'acme fridges',
        targetIds: [acme.targetId],
        topicRights: [{ topic: 'fridges/{deviceId}/#', access: 'publish' }],
        certificateLifetimeDays: 365,
        ownerId: acme.ownerId,
      }),
    );
    await append(
      'registry',
      'batch',
      envelope('BatchCreated', 1, acme.batchId, {
        batchId: acme.batchId,
        name: 'acme fridges',
        policyId: acme.policyId,
        ownerId: acme.ownerId,
        expectedSize: 10,
      }),
    );
    await append(
      'registry',
      'device',
      envelope('DeviceIdentityImported', 1, acme.deviceId, {
        deviceId: acme.deviceId,
        batchId: acme.batchId,
        importId: 'i-0',
        source: 'json',
        enrolmentPublicKey: 'AAAA',
        enrolmentKeyDigest: digest,
      }),
    );
    await append(
      'ca',
      'renewal',
      envelope('CertificateRenewalRequested', 1, 'acme-renewal-1', {
        renewalId: 'acme-renewal-1',
        deviceId: acme.deviceId,
        reason: 'operator',
        operationId: acme.operationId,
        requestId: 'acme-renewal-request',
        keyId: 'tls-1',
        previous: {
          authorityId: 'issuing-acme',
          serialNumber: '0a01',
          keyId: 'tls-0',
          notAfter: new Date().toISOString(),
        },
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
    gateway = await startGateway({ nats: nats.nc, namespace, httpPort: 0, adminToken, logger, nestLogger: false });
    // The read models hold acme's things (the platform admin sees them) before anyone asks.
    await waitFor(
      async () =>
        (await call('GET', `/api/devices/${acme.deviceId}`, adminToken)).status === 200 &&
        (await call('GET', `/api/targets/${acme.targetId}`, adminToken)).status === 200 &&
        (await call('GET', `/api/policies/${acme.policyId}`, adminToken)).status === 200,
      { description: "acme's things in the read models", timeoutMs: 30_000 },
    );
    const issued = await call('POST', '/api/tokens', adminToken, {
      name: 'globex-ops',
      role: 'admin',
      ownerId: 'globex',
    });
    expect(issued.status).toBe(201);
    globexToken = issued.body.token;
    commands = nats.nc.subscribe(`${namespace}.cmd.>`, { callback: (_e, msg) => void sent.push(msg.subject) });
    await nats.nc.flush();
  }, 60_000);

  afterAll(async () => {
    commands?.unsubscribe();
    await gateway?.stop();
    await nats.teardown();
  });

  const owned = (Object.keys(commandRoutes) as CommandRouteName[]).filter(
    (name) => commandOwnership[name].kind === 'owned' && !commandRoutes[name].path.includes('{rolloutId}'),
  );
  const platformOnly = (Object.keys(commandRoutes) as CommandRouteName[]).filter(
    (name) => commandOwnership[name].kind === 'platform',
  );

  it.each(owned)("%s naming acme's things: 404, nothing sent", async (name) => {
    const route = commandRoutes[name];
    const body = bodies[name];
    if (!body) throw new Error(`no body for ${name}: add one naming acme's things`);
    const answer = await call('POST', fill(route.path), globexToken, body);
    expect(answer.status).toBe(404);
    await nats.nc.flush();
    expect(sent).toEqual([]);
  });

  it.each(platformOnly)('%s (the shared firmware catalog): 403 without the platform-admin capability', async (name) => {
    expect((await call('POST', fill(commandRoutes[name].path), globexToken, {})).status).toBe(403);
    expect(sent).toEqual([]);
  });

  const ownedQueries = (Object.keys(queryRoutes) as (keyof typeof queryRoutes)[]).filter(
    (name) => queryOwnership[name].kind === 'owned',
  );
  it.each(ownedQueries)("GET %s of acme's: 404", async (name) => {
    const answer = await call('GET', fill(queryRoutes[name].path), globexToken);
    expect(answer.status).toBe(404);
  });

  it("the lists show none of acme's things; naming acme's batch or target in a filter is 404", async () => {
    for (const path of ['/api/batches', '/api/devices', '/api/policies', '/api/targets']) {
      const answer = await call('GET', path, globexToken);
      expect(answer.status).toBe(200);
      expect(JSON.stringify(answer.body)).not.toContain('acme');
    }
    expect((await call('GET', `/api/devices?batchId=${acme.batchId}`, globexToken)).status).toBe(404);
    expect((await call('GET', `/api/devices?targetId=${acme.targetId}`, globexToken)).status).toBe(404);
    // The same requests with acme's own token see them: the 404s above are the owner rule's.
    const acmeIssued = await call('POST', '/api/tokens', adminToken, {
      name: 'acme-ops',
      role: 'admin',
      ownerId: acme.ownerId,
    });
    const acmeToken = acmeIssued.body.token as string;
    // Nor can globex see or revoke acme's tokens.
    expect(JSON.stringify((await call('GET', '/api/tokens', globexToken)).body)).not.toContain('acme-ops');
    const acmeTokenId = acmeIssued.body.record.id as string;
    expect(acmeTokenId).toMatch(/^[0-9a-f]{16}$/);
    expect((await call('DELETE', `/api/tokens/${acmeTokenId}`, globexToken)).status).toBe(404);
    expect((await call('GET', `/api/devices/${acme.deviceId}`, acmeToken)).status).toBe(200);
    expect((await call('GET', `/api/devices?batchId=${acme.batchId}`, acmeToken)).body.items).toHaveLength(1);
  });
});
