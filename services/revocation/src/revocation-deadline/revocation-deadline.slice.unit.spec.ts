import { randomUUID } from 'node:crypto';
import { InMemoryEventStore, type EventStore } from '@tunnelkey/eventstore';
import { waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { RevocationSagaHandler } from '../revocation-saga/revocation-saga.handler.js';
import { RevocationSagaReaction } from '../revocation-saga/revocation-saga.reaction.js';
import { deviceRevocationView, revocationView } from '../revocation-status/revocation-status.queries.js';
import { RevokeDevicesHandler } from '../revoke-devices/revoke-devices.handler.js';
import { OtherContexts } from '../test-support/other-contexts.test-helper.js';
import { RevocationStatusView } from '../views/revocation-status.view.js';
import { RevocationDeadlineHandler } from './revocation-deadline.handler.js';
import { RevocationDeadlineJob } from './revocation-deadline.job.js';

const logger = pino({ level: 'silent' });
const t0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
const policy = { stallMs: 60_000, deadlineMs: 300_000 };

/** The saga's log of one revocation: event types, with the step for steps. */
async function sagaLog(store: EventStore, revocationId: string): Promise<string[]> {
  const { events } = await store.read({ context: 'revocation', aggregate: 'revocation', id: revocationId });
  return events.map(({ event }) =>
    event.type === 'RevocationStepCompleted' ? (event.data as { step: string }).step : event.type,
  );
}

describe('the saga deadline (slice, in-memory store, a clock): stalled, then escalated, and never given up', () => {
  let store: InMemoryEventStore;
  let given: OtherContexts;
  let nowMs = t0;
  const clock = () => new Date(nowMs);
  let view: RevocationStatusView;
  let saga: RevocationSagaReaction;
  let job: RevocationDeadlineJob;
  let metrics: Registry;

  beforeEach(async () => {
    nowMs = t0;
    store = new InMemoryEventStore({ logger });
    given = new OtherContexts(store);
    for (const deviceId of ['d-1', 'd-2']) {
      await given.importDevice(deviceId, 'b-1');
      await given.onboard(deviceId, 'broker-a', 'b-1');
    }
    await given.trust('broker-a');
    view = await RevocationStatusView.start(store, logger);
    metrics = new Registry();
    const config = { retryMs: 20, namespace: '', ...policy };
    saga = new RevocationSagaReaction(
      view,
      new RevocationSagaHandler(store, view, clock, logger),
      config,
      logger,
      metrics,
      () => undefined,
    );
    saga.start();
    const handler = new RevocationDeadlineHandler(store, view, clock, config, logger);
    job = new RevocationDeadlineJob(handler, view, clock, config, logger, metrics);
  });
  afterEach(async () => {
    await job.stop();
    await saga.stop();
    await view.stop();
  });

  /** Moves the clock, runs one deadline check, and waits until the view holds what it recorded. */
  const checkAt = async (seconds: number) => {
    nowMs = t0 + seconds * 1000;
    await job.run();
    await view.catchUp();
  };
  const gauge = async (name: string) => (await metrics.getSingleMetric(name)!.get()).values[0]!.value;

  it('records RevocationStalled once per wait and RevocationEscalated once past the deadline, shows both, and the saga still completes', async () => {
    const reply = await new RevokeDevicesHandler(store, view, clock, logger).revokeBatch({
      commandId: randomUUID(),
      batchId: 'b-1',
      reason: 'keyCompromise',
    });
    const { revocationId } = reply;

    // The CA does not answer (its key store is down).
    await checkAt(59);
    expect(await sagaLog(store, revocationId)).toEqual(['RevocationRequested']);
    expect(revocationView(revocationId, view.state)?.stalled).toBeUndefined();

    await checkAt(60);
    expect(await sagaLog(store, revocationId)).toEqual(['RevocationRequested', 'RevocationStalled']);
    expect(revocationView(revocationId, view.state)?.stalled).toEqual({
      waitingFor: 'ca',
      step: 'certificates-revoked',
      since: at(0),
      at: at(60),
    });
    expect(deviceRevocationView('d-1', view.state)).toMatchObject({
      status: 'revoking',
      stalled: { waitingFor: 'ca', since: at(0) },
    });
    expect(await gauge('revocation_stalled')).toBe(1);
    expect(await gauge('revocation_oldest_open_seconds')).toBe(60);

    // Still stuck on the same wait: nothing new.
    await checkAt(90);
    expect(await sagaLog(store, revocationId)).toEqual(['RevocationRequested', 'RevocationStalled']);

    // The CA is back at 100 s: the saga moves on, the stall is over.
    nowMs = t0 + 100_000;
    await given.applyRevocation(revocationId, 2);
    await waitFor(async () => ((await sagaLog(store, revocationId)).at(-1) === 'crl-published' ? true : undefined), {
      description: 'saga at crl-published',
      timeoutMs: 5_000,
      intervalMs: 5,
    });
    await view.catchUp();
    expect(revocationView(revocationId, view.state)?.stalled).toBeUndefined();
    expect(await gauge('revocation_stalled')).toBe(0);

    // One device cut off, the broker offline for the other: stalled again, waiting for onboarding.
    await given.deprovision('d-1', 'broker-a', revocationId);
    await saga.idle();
    await checkAt(160);
    expect(revocationView(revocationId, view.state)?.stalled).toEqual({
      waitingFor: 'onboarding',
      step: 'targets-deprovisioned',
      since: at(100),
      at: at(160),
      pendingTargets: 1,
      pendingTargetIds: ['broker-a'],
    });

    // Past the deadline: escalated, once; the saga keeps going.
    await checkAt(299);
    expect(revocationView(revocationId, view.state)?.escalated).toBeUndefined();
    await checkAt(300);
    await checkAt(400);
    const log = await sagaLog(store, revocationId);
    expect(log.filter((type) => type === 'RevocationEscalated')).toHaveLength(1);
    expect(log.filter((type) => type === 'RevocationStalled')).toHaveLength(2);
    expect(revocationView(revocationId, view.state)?.escalated).toEqual({
      waitingFor: 'onboarding',
      step: 'targets-deprovisioned',
      since: at(100),
      at: at(300),
      pendingTargets: 1,
      pendingTargetIds: ['broker-a'],
      deadlineMs: 300_000,
    });
    expect(await gauge('revocation_escalated')).toBe(1);

    // The broker is back: the saga, never given up, completes the revocation.
    nowMs = t0 + 500_000;
    await given.deprovision('d-2', 'broker-a', revocationId);
    await given.enforceCrl('broker-a', 2);
    for (const deviceId of ['d-1', 'd-2']) await given.markRevoked(deviceId, revocationId);
    await waitFor(
      async () => ((await sagaLog(store, revocationId)).at(-1) === 'RevocationCompleted' ? true : undefined),
      { description: 'saga completed', timeoutMs: 5_000, intervalMs: 5 },
    );
    await view.catchUp();
    const done = revocationView(revocationId, view.state)!;
    expect(done.status).toBe('Completed');
    expect(done.stalled).toBeUndefined();
    expect(done.escalated).toMatchObject({ at: at(300) });
    await checkAt(900);
    expect((await sagaLog(store, revocationId)).at(-1)).toBe('RevocationCompleted');
    expect(await gauge('revocation_open')).toBe(0);
  });
});
