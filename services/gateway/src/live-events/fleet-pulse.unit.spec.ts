import { randomUUID } from 'node:crypto';
import type { BoundedContext, EventEnvelope } from '@tunnelkey/contracts';
import { InMemoryEventStore } from '@tunnelkey/eventstore';
import { EmbeddedProjectionStore } from '@tunnelkey/projection-store';
import { pino } from 'pino';
import { ReadModels } from '../views/read-models.js';
import { FleetPulse, type FleetSample } from './fleet-pulse.js';

// The dashboard's samples as the gateway takes them: the read models (a LiveFeed per view on the
// embedded projection store) follow the in-memory log, and the pulse samples their changes.
const logger = pino({ level: 'silent' });
const digest = 'a'.repeat(64);
const at = '2030-01-01T00:00:00.000Z';

function event(type: string, deviceId: string, data: Record<string, unknown>, version = 1): EventEnvelope {
  const id = randomUUID();
  return { type, version, id, aggregateId: deviceId, occurredAt: at, causationId: id, correlationId: id, data };
}

const imported = (deviceId: string) =>
  event('DeviceIdentityImported', deviceId, {
    deviceId,
    batchId: 'b1',
    importId: 'i1',
    source: 'json',
    enrolmentPublicKey: 'AAAA',
    enrolmentKeyDigest: digest,
  });
const certified = (deviceId: string) =>
  event('DeviceCertified', deviceId, {
    deviceId,
    authorityId: 'issuing-acme',
    serialNumber: '0a0b',
    fingerprintSha256: digest,
    notAfter: '2031-01-01T00:00:00.000Z',
  });
const connected = (deviceId: string) =>
  event(
    'DeviceConnected',
    deviceId,
    { deviceId, targetId: 't1', clientId: deviceId, connectedAt: at, tlsProtocol: 'TLSv1.3', cipher: 'TLS' },
    2,
  );
const telemetry = (deviceId: string, messagesTotal: number) =>
  event('TelemetryReceived', deviceId, {
    deviceId,
    targetId: 't1',
    kind: messagesTotal === 1 ? 'first' : 'periodic',
    messagesTotal,
    bytesTotal: messagesTotal * 10,
    messagesInWindow: 1,
    windowStart: at,
    firstMessageAt: at,
    lastMessageAt: at,
    lastTopic: `devices/${deviceId}/telemetry`,
  });
const revoked = (deviceId: string) =>
  event('DeviceRevoked', deviceId, { deviceId, revocationId: 'rv1', reason: 'keyCompromise', revokedAt: at });

/** A log, the read models following it, and a pulse sampling them on a clock the test moves. */
async function fixture() {
  const events = new InMemoryEventStore({ logger });
  const readModels = new ReadModels({ events, store: new EmbeddedProjectionStore(), logger });
  await readModels.start();
  let clock = 1_000_000;
  // The timer is left to the test: a sampling interval longer than the test.
  const pulse = new FleetPulse(readModels, { sampleMs: 3_600_000, idleSampleMs: 10_000, keep: 3, now: () => clock });
  return {
    pulse,
    /** Appends to the log, then waits until the read models applied it. */
    async given(context: BoundedContext, ...recorded: EventEnvelope[]) {
      for (const e of recorded)
        await events.append({ context, aggregate: 'device', id: e.aggregateId }, [e], {
          expectedVersion: 'any',
          messageId: e.id,
        });
      await readModels.catchUp();
    },
    /** Moves the clock on and asks for a sample. */
    sampleAfter(ms: number) {
      clock += ms;
      return pulse.sample();
    },
    now: () => clock,
    async stop() {
      pulse.close();
      await readModels.stop();
    },
  };
}

describe('fleet pulse: the dashboard samples the fleet as the log moves', () => {
  let f: Awaited<ReturnType<typeof fixture>>;
  beforeEach(async () => {
    f = await fixture();
    await f.given('registry', imported('d1'), imported('d2'), imported('d3'), certified('d1'), certified('d2'));
    await f.given('onboarding', connected('d1'));
  });
  afterEach(() => f.stop());

  it('counts devices per state, connected, certified and revoked in the first sample', async () => {
    const sample = await f.sampleAfter(1_000);
    expect(sample).toMatchObject({
      at: f.now(),
      devices: 3,
      counts: { Imported: 1, Certified: 2, Revoked: 0 },
      connected: 1,
      certified: 2,
      revoked: 0,
      telemetryMessages: 0,
    });
  });

  it('takes no sample while nothing changed, and one after the idle interval', async () => {
    await f.sampleAfter(1_000);
    expect(await f.sampleAfter(1_000)).toBeUndefined();
    expect(await f.sampleAfter(10_000)).toMatchObject({ devices: 3, telemetryMessages: 0 });
  });

  it("adds each link's growth of its reported total; a late, smaller total adds nothing", async () => {
    await f.given('onboarding', telemetry('d1', 1), telemetry('d1', 40), telemetry('d2', 1));
    expect((await f.sampleAfter(1_000))?.telemetryMessages).toBe(41);
    await f.given('onboarding', telemetry('d1', 30), telemetry('d2', 11));
    expect((await f.sampleAfter(1_000))?.telemetryMessages).toBe(51);
  });

  it('recounts after a device changes: a revoked device stays counted as certified', async () => {
    await f.sampleAfter(1_000);
    await f.given('registry', revoked('d1'));
    const sample = await f.sampleAfter(1_000);
    expect(sample).toMatchObject({ counts: { Certified: 1, Revoked: 1 }, connected: 1, certified: 2, revoked: 1 });
  });

  it('keeps the last samples for a console that opens later, and streams each new one', async () => {
    const seen: FleetSample[] = [];
    const subscription = f.pulse.updates.subscribe((s) => seen.push(s));
    const taken = [];
    for (const total of [1, 2, 3, 4]) {
      await f.given('onboarding', telemetry('d2', total));
      taken.push(await f.sampleAfter(1_000));
    }
    subscription.unsubscribe();
    expect(seen).toEqual(taken);
    // The last three (keep: 3), oldest first.
    expect(f.pulse.samples()).toEqual(taken.slice(1));
  });
});
