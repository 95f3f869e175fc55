/**
 * The service as deployed, commands over real NATS, on the in-memory event store: refusals reach
 * the operator as clean error replies through messaging's one command filter (no controller-level
 * filter), and the queries answer from the view.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { RevokeBatch, RevokeDevice } from '@tunnelkey/contracts';
import { InMemoryEventStore } from '@tunnelkey/eventstore';
import { CommandClient, CommandFailed } from '@tunnelkey/messaging';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { revocationQuerySubjects } from './revocation-status/revocation-status.ms-controller.js';
import { startRevocation, type RunningRevocation } from './start-revocation.js';
import { OtherContexts } from './test-support/other-contexts.test-helper.js';

const nats = natsFixture({ prefix: 'rvint' });

describe('revocation service on NATS with the in-memory event store', () => {
  let revocation: RunningRevocation;
  let commands: CommandClient;
  let store: InMemoryEventStore;
  let namespace: string;
  const send = <R>(subject: string, payload: object) =>
    commands.request<R>(`${namespace}.${subject}`, payload, { timeoutMs: 10_000 });
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error as CommandFailed,
    );

  beforeAll(async () => {
    await nats.setup();
    namespace = nats.subNamespace();
    store = new InMemoryEventStore({ logger: pino({ level: 'silent' }) });
    const logger = pino({ level: 'warn' });
    revocation = await startRevocation({
      nats: nats.nc,
      namespace,
      env: {},
      config: { httpPort: 0 },
      eventStore: store,
      logger,
    });
    commands = new CommandClient(nats.nc);
  });
  afterAll(async () => {
    await revocation?.stop();
    await nats.teardown();
  });

  it('an unknown device or batch gets a clean NOT_FOUND reply, a malformed reason CONTRACT_VIOLATION', async () => {
    const unknown = await failure(
      send(RevokeDevice.subject(), { commandId: randomUUID(), deviceId: 'd-none', reason: 'keyCompromise' }),
    );
    expect(unknown).toBeInstanceOf(CommandFailed);
    expect(unknown).toMatchObject({ code: 'NOT_FOUND', message: 'device d-none not found' });
    const batch = await failure(
      send(RevokeBatch.subject(), { commandId: randomUUID(), batchId: 'b-none', reason: 'keyCompromise' }),
    );
    expect(batch).toMatchObject({ code: 'NOT_FOUND' });
    const malformed = await failure(
      send(RevokeDevice.subject(), { commandId: randomUUID(), deviceId: 'd-1', reason: 'stolen' }),
    );
    expect(malformed).toMatchObject({ code: 'CONTRACT_VIOLATION' });
    const query = await failure(send(revocationQuerySubjects.revocation, { revocationId: 'rv-none' }));
    expect(query).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('revokes a known device and answers the queries over NATS and HTTP right after the reply', async () => {
    await new OtherContexts(store).importDevice('d-known', 'b-int');
    const reply = await send<{ revocationId: string; devices: number }>(RevokeDevice.subject(), {
      commandId: randomUUID(),
      deviceId: 'd-known',
      reason: 'keyCompromise',
    });
    expect(reply).toMatchObject({ devices: 1, alreadyRevoked: 0 });
    const view = await send(revocationQuerySubjects.revocation, { revocationId: reply.revocationId });
    expect(view).toMatchObject({ status: 'Requested', devices: 1, reason: 'keyCompromise' });
    const device = await fetch(`${revocation.url}/devices/d-known/revocation`).then((r) => r.json());
    expect(device).toMatchObject({ status: 'revoking', revocationId: reply.revocationId });
    expect((await fetch(`${revocation.url}/ready`)).status).toBe(200);
  });
});
