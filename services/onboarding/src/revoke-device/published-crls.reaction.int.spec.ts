/**
 * A CRL a target cannot take (offline, a reload that keeps failing) is never parked: on real
 * JetStream, the reaction fails on it well past the store's park limit, is reported stuck while it
 * does (log line, /metrics), and enforces the CRL once the fault clears.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { CrlPublished } from '@tunnelkey/contracts';
import { noStream } from '@tunnelkey/eventstore';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { natsFixture, withTimeout } from '@tunnelkey/testing';
import { pino } from 'pino';
import { ONBOARDING_LOGGER } from '../tokens.js';
import { PublishedCrlsReaction, publishedCrlsDurable } from './published-crls.reaction.js';
import { RevokeDeviceHandler } from './revoke-device.handler.js';

const nats = natsFixture({ prefix: 'crlretry' });
beforeAll(() => nats.setup());
afterAll(() => nats.teardown());

/** The store parks a failing event after this many attempts, unless the subscription retries forever. */
const parkLimit = 3;
const failuresBeforeFix = parkLimit * 4;

describe('PublishedCrlsReaction on JetStream: a CRL is never parked', () => {
  let service: RunningService;
  let store: JetStreamEventStore;
  const logs: Record<string, unknown>[] = [];
  const enforced: { authorityId: string; crlNumber: number }[] = [];
  let failures = 0;
  let targetOffline = true;
  let stuckSeen: () => void;
  const failedPastTheLimit = new Promise<void>((resolve) => (stuckSeen = resolve));

  const fakeHandler = {
    async handle(crl: { authorityId: string; crlNumber: number }) {
      if (targetOffline) {
        failures++;
        if (failures === failuresBeforeFix) stuckSeen();
        throw Object.assign(new Error('target mosquitto-1 offline'), { name: 'TargetUnavailable' });
      }
      enforced.push({ authorityId: crl.authorityId, crlNumber: crl.crlNumber });
      return {};
    },
  };

  beforeAll(async () => {
    const namespace = nats.subNamespace();
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    store = new JetStreamEventStore(nats.nc, {
      namespace,
      logger,
      retryBackoffMs: [10, 20, 40],
      maxHandlerAttempts: parkLimit,
    });
    await store.ensureStreams(['ca']);

    @Module({
      providers: [
        { provide: RevokeDeviceHandler, useValue: fakeHandler },
        { provide: ONBOARDING_LOGGER, useValue: logger },
        PublishedCrlsReaction,
      ],
    })
    class CrlModule {}
    service = await startService({
      service: 'onboarding',
      module: CrlModule,
      namespace,
      nats: nats.nc,
      eventStore: store,
      logger: false,
    });
  });
  afterAll(async () => {
    await service?.stop();
    await store?.close();
  });

  const metric = async (name: string): Promise<number | undefined> => {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{reaction="${publishedCrlsDurable}",`));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };

  it('fails on the CRL far past the park limit, reported stuck, then enforces it once the target is back', async () => {
    const authorityId = 'issuing-ca-1';
    const event = CrlPublished.create({
      id: crypto.randomUUID(),
      aggregateId: authorityId,
      occurredAt: '2026-03-01T10:00:00.000Z',
      causationId: 'rv-1',
      correlationId: 'rv-1',
      data: {
        authorityId,
        crlNumber: 7,
        issuer: 'CN=Issuing CA 1',
        thisUpdate: '2026-03-01T10:00:00.000Z',
        nextUpdate: '2026-03-02T10:00:00.000Z',
        url: 'http://127.0.0.1:1/crl/issuing-ca-1.crl',
        revokedCount: 1,
        crlDigest: 'a'.repeat(64),
      },
    });
    await store.append({ context: 'ca', aggregate: 'crl', id: authorityId }, [event], {
      expectedVersion: noStream,
      messageId: `crl-${event.id}`,
    });
    const reaction = service.app.get(PublishedCrlsReaction);

    // Old behaviour: parked after `parkLimit` attempts, so the reaction catches up with the fault still there.
    const first = await withTimeout(
      Promise.race([
        failedPastTheLimit.then(() => 'still retrying' as const),
        reaction.caughtUp().then(() => 'caught up while the target was still offline' as const),
      ]),
      20_000,
      'the reaction neither failed past the limit nor caught up',
    );
    expect(first).toBe('still retrying');
    expect(await store.parked.list()).toEqual([]);

    // Stuck: one error line (no payload, no error message), the gauges in /metrics.
    const stuckLines = logs.filter((l) => l['event'] === 'reaction.stuck');
    expect(stuckLines).toEqual([
      expect.objectContaining({
        level: 50,
        reaction: publishedCrlsDurable,
        type: 'CrlPublished',
        error: 'TargetUnavailable',
        delivery: 'retry-forever',
      }),
    ]);
    expect(JSON.stringify(stuckLines)).not.toContain('offline');
    expect(reaction.stuck()).toMatchObject({ reaction: publishedCrlsDurable, type: 'CrlPublished' });
    expect(await metric('reaction_stuck_events')).toBe(1);
    expect(await metric('reaction_stuck_seconds')).toBeGreaterThan(0);

    // The target is back: the CRL is enforced, once.
    targetOffline = false;
    await withTimeout(reaction.caughtUp(), 20_000, 'caughtUp after the fault cleared');
    expect(enforced).toEqual([{ authorityId, crlNumber: 7 }]);
    expect(await store.parked.list()).toEqual([]);
    expect(reaction.stuck()).toBeUndefined();
    expect(await metric('reaction_stuck_events')).toBe(0);
    expect(logs.filter((l) => l['event'] === 'reaction.recovered')).toEqual([
      expect.objectContaining({ reaction: publishedCrlsDurable, failures }),
    ]);
    expect(failures).toBeGreaterThanOrEqual(failuresBeforeFix);
    expect(reaction.delivery).toBe('retry-forever');
  });
});
