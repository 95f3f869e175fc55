/**
 * Issue 14, finding 8, on the real NATS: the gateway (its idempotency keys in the JetStream KV
 * bucket) and the revocation service over NATS request/reply, sharing an in-memory event store on
 * which the registry's imports are played. An Idempotency-Key reused for another device used to be
 * answered 202 while nothing was revoked (the service saw a command id it had already handled).
 */
import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { DeviceIdentityImported } from '@tunnelkey/contracts';
import { InMemoryEventStore } from '@tunnelkey/eventstore';
import { startGateway, type RunningGateway } from '@tunnelkey/gateway';
import { startRevocation, type RunningRevocation } from '@tunnelkey/revocation';
import { givenEvent, natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';

const nats = natsFixture({ prefix: 'idem' });
const logger = pino({ level: 'warn' });
const adminToken = randomBytes(32).toString('base64url');

describe('Idempotency-Key on the real bus: bound to its caller and its request', () => {
  let gateway: RunningGateway;
  let revocation: RunningRevocation;
  const store = new InMemoryEventStore({ logger: pino({ level: 'silent' }) });
  let otherAdmin: string;

  const importDevice = (deviceId: string) => {
    const enrolmentPublicKey = Buffer.from(`spki-of-${deviceId}`).toString('base64');
    return givenEvent(store, DeviceIdentityImported, deviceId, {
      deviceId,
      batchId: 'b-idem',
      importId: 'import-1',
      source: 'json',
      enrolmentPublicKey,
      enrolmentKeyDigest: createHash('sha256').update(enrolmentPublicKey).digest('hex'),
    });
  };
  const revoke = async (deviceId: string, key: string, token = adminToken) => {
    const response = await fetch(`${gateway.url}/api/devices/${deviceId}/revocation`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ reason: 'keyCompromise' }),
    });
    return { status: response.status, body: (await response.json()) as { error?: { code: string } } };
  };
  /** The revocation service's own answer: not-revoked, revoking or revoked. */
  const revocationOf = async (deviceId: string) =>
    ((await (await fetch(`${revocation.url}/devices/${deviceId}/revocation`)).json()) as { status: string }).status;

  beforeAll(async () => {
    await nats.setup();
    const namespace = nats.subNamespace();
    revocation = await startRevocation({
      nats: nats.nc,
      namespace,
      env: {},
      config: { httpPort: 0 },
      eventStore: store,
      logger,
    });
    gateway = await startGateway({
      nats: nats.nc,
      namespace,
      env: {},
      httpPort: 0,
      adminToken,
      eventStore: store,
      logger,
      nestLogger: ['error'],
    });
    const response = await fetch(`${gateway.url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      // A second platform admin: the devices' batch has no owner on record, only a platform admin's token reaches it.
      body: JSON.stringify({ name: 'second-admin', role: 'admin', allOwners: true }),
    });
    otherAdmin = ((await response.json()) as { token: string }).token;
    for (const deviceId of ['d-1', 'd-2', 'd-3', 'd-4']) await importDevice(deviceId);
  });

  afterAll(async () => {
    await gateway?.stop();
    await revocation?.stop();
    await nats.teardown();
  });

  it('refuses a key reused for another device (422) and revokes nothing for it; a new key revokes it', async () => {
    expect((await revoke('d-1', 'revoke-key-1')).status).toBe(202);
    expect(await revocationOf('d-1')).toBe('revoking');
    const reused = await revoke('d-2', 'revoke-key-1');
    expect(reused).toMatchObject({ status: 422, body: { error: { code: 'idempotency-key-reused' } } });
    expect(await revocationOf('d-2')).toBe('not-revoked');
    // The same request again is answered as before.
    expect((await revoke('d-1', 'revoke-key-1')).status).toBe(202);
    expect((await revoke('d-2', 'revoke-key-2')).status).toBe(202);
    expect(await revocationOf('d-2')).toBe('revoking');
  });

  it("another caller's use of the same key is its own command: the device is revoked", async () => {
    expect((await revoke('d-3', 'shared-key')).status).toBe(202);
    expect(await revocationOf('d-3')).toBe('revoking');
    expect((await revoke('d-4', 'shared-key', otherAdmin)).status).toBe(202);
    expect(await revocationOf('d-4')).toBe('revoking');
  });
});
