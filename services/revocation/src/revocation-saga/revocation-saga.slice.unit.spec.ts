import { randomUUID } from 'node:crypto';
import { InMemoryEventStore, type EventStore } from '@tunnelkey/eventstore';
import { waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { RevokeDevicesHandler } from '../revoke-devices/revoke-devices.handler.js';
import { OtherContexts } from '../test-support/other-contexts.test-helper.js';
import type { StepListener } from '../tokens.js';
import { RevocationStatusView } from '../views/revocation-status.view.js';
import { RevocationSagaHandler } from './revocation-saga.handler.js';
import { RevocationSagaReaction } from './revocation-saga.reaction.js';

const logger = pino({ level: 'silent' });
const clock = () => new Date();

/** One running instance of the service's saga on a store: its view, its reaction. */
async function startInstance(store: EventStore) {
  const view = await RevocationStatusView.start(store, logger);
  const handler = new RevocationSagaHandler(store, view, clock, logger);
  const steps: string[] = [];
  const onStep: StepListener = (_id, step) =>
    void steps.push(step.type === 'CompleteStep' ? step.data.step : 'completed');
  const config = { retryMs: 20, namespace: '' };
  const saga = new RevocationSagaReaction(view, handler, config, logger, new Registry(), onStep);
  saga.start();
  return {
    view,
    saga,
    steps,
    revokeDevices: new RevokeDevicesHandler(store, view, clock, logger),
    stop: async () => {
      await saga.stop();
      await view.stop();
    },
  };
}

/** The saga's log of one revocation: each step (with its target) or event type, in order. */
async function sagaLog(store: EventStore, revocationId: string): Promise<string[]> {
  const { events } = await store.read({ context: 'revocation', aggregate: 'revocation', id: revocationId });
  return events.map(({ event }) => {
    const data = event.data as { step?: string; targetId?: string };
    return event.type === 'RevocationStepCompleted' ? [data.step, data.targetId].filter(Boolean).join('@') : event.type;
  });
}

const sagaReaches = (store: EventStore, revocationId: string, last: string) =>
  waitFor(async () => ((await sagaLog(store, revocationId)).at(-1) === last ? true : undefined), {
    description: `saga ${revocationId} at ${last}`,
    timeoutMs: 5_000,
    intervalMs: 5,
  });

describe('the revocation saga (slice, in-memory store): CA revoke -> CRL -> targets -> registry', () => {
  let store: InMemoryEventStore;
  let given: OtherContexts;
  const instances: { stop(): Promise<void> }[] = [];
  const start = async () => {
    const instance = await startInstance(store);
    instances.push(instance);
    return instance;
  };

  beforeEach(async () => {
    store = new InMemoryEventStore({ logger });
    given = new OtherContexts(store);
    for (const deviceId of ['d-1', 'd-2']) {
      await given.importDevice(deviceId, 'b-1');
      await given.onboard(deviceId, 'broker-a', 'b-1');
    }
    await given.trust('broker-a');
  });
  afterEach(async () => {
    for (const instance of instances.splice(0)) await instance.stop();
  });

  const revokeBatch = async (instance: Awaited<ReturnType<typeof startInstance>>) => {
    const reply = await instance.revokeDevices.revokeBatch({
      commandId: randomUUID(),
      batchId: 'b-1',
      reason: 'keyCompromise',
    });
    return reply.revocationId;
  };

  it('records each step once its trigger is in a log, in order, and completes', async () => {
    const instance = await start();
    const revocationId = await revokeBatch(instance);
    await instance.saga.idle();
    expect(await sagaLog(store, revocationId)).toEqual(['RevocationRequested']);

    await given.applyRevocation(revocationId, 2, { authorityId: 'issuing-acme', crlNumber: 4 });
    await sagaReaches(store, revocationId, 'crl-published');

    // The broker disabled one device and enforces an older CRL: the saga waits.
    await given.deprovision('d-1', 'broker-a', revocationId);
    await given.enforceCrl('broker-a', 3);
    await instance.view.catchUp();
    await instance.saga.idle();
    expect(await sagaLog(store, revocationId)).toEqual([
      'RevocationRequested',
      'certificates-revoked',
      'crl-published',
    ]);

    await given.deprovision('d-2', 'broker-a', revocationId);
    await sagaReaches(store, revocationId, 'targets-deprovisioned@broker-a');
    await given.enforceCrl('broker-a', 4);
    await sagaReaches(store, revocationId, 'targets-deprovisioned');

    await given.markRevoked('d-1', revocationId);
    await given.markRevoked('d-2', revocationId);
    await sagaReaches(store, revocationId, 'RevocationCompleted');
    expect(await sagaLog(store, revocationId)).toEqual([
      'RevocationRequested',
      'certificates-revoked',
      'crl-published',
      'targets-deprovisioned@broker-a',
      'targets-crl-updated@broker-a',
      'targets-deprovisioned',
      'registry-updated',
      'RevocationCompleted',
    ]);
    expect(instance.steps).toHaveLength(7);
  });

  it('resumes after a stop: what happened meanwhile is in the logs, the restarted saga records the steps', async () => {
    const first = await start();
    const revocationId = await revokeBatch(first);
    await first.stop();
    await given.applyRevocation(revocationId, 2);
    for (const deviceId of ['d-1', 'd-2']) await given.deprovision(deviceId, 'broker-a', revocationId);
    await given.enforceCrl('broker-a', 2);

    await start();
    await sagaReaches(store, revocationId, 'targets-deprovisioned');
    expect(await sagaLog(store, revocationId)).toHaveLength(6);
  });

  it('two instances on one log record every step exactly once', async () => {
    const [one, two] = [await start(), await start()];
    const revocationId = await revokeBatch(one);
    await given.applyRevocation(revocationId, 2);
    for (const deviceId of ['d-1', 'd-2']) await given.deprovision(deviceId, 'broker-a', revocationId);
    await given.enforceCrl('broker-a', 2);
    for (const deviceId of ['d-1', 'd-2']) await given.markRevoked(deviceId, revocationId);
    await sagaReaches(store, revocationId, 'RevocationCompleted');
    await Promise.all([one.saga.idle(), two.saga.idle()]);
    const log = await sagaLog(store, revocationId);
    expect(log).toHaveLength(8);
    expect(new Set(log).size).toBe(8);
  });
});
