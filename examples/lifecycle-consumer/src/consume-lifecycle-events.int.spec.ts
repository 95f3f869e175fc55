/**
 * The example consumer of contracts/examples, run against a real NATS with JetStream and the
 * registry stream as the platform writes it: it hands on the public events as CloudEvents, skips
 * internal and invalid messages, and its durable consumer resumes after a stop without repeating.
 */
import { randomUUID } from 'node:crypto';
import {
  DeviceCertified,
  fromCloudEvent,
  IdentityChallengeIssued,
  type TunnelkeyCloudEvent,
} from '@tunnelkey/contracts';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { consumeLifecycleEvents } from './consume-lifecycle-events.js';

const nats = natsFixture({ prefix: 'example' });
const meta = (deviceId: string) => ({
  id: randomUUID(),
  aggregateId: deviceId,
  occurredAt: new Date().toISOString(),
  causationId: `cmd-${deviceId}`,
  correlationId: `corr-${deviceId}`,
});
const certified = (deviceId: string) =>
  DeviceCertified.create({
    ...meta(deviceId),
    data: {
      deviceId,
      authorityId: 'issuing-acme',
      serialNumber: '0a1b2c',
      fingerprintSha256: 'ab'.repeat(32),
      notAfter: '2027-12-07T01:02:03.000Z',
    },
  });

describe('the example lifecycle-event consumer', () => {
  let store: JetStreamEventStore;
  beforeAll(async () => {
    await nats.setup();
    store = new JetStreamEventStore(nats.nc, { namespace: nats.namespace });
    await store.ensureStreams(['registry']);
  });
  afterAll(() => nats.teardown());

  const append = (deviceId: string, event: Parameters<JetStreamEventStore['append']>[1][number]) =>
    store.append({ context: 'registry', aggregate: 'device', id: deviceId }, [event], {
      expectedVersion: 'any',
      messageId: `m-${event.id}`,
    });

  it('hands on public events as CloudEvents, skips internal and invalid ones, and resumes where it stopped', async () => {
    const received: TunnelkeyCloudEvent[] = [];
    const first = certified('d-one');
    await append('d-one', first);
    await append(
      'd-one',
      IdentityChallengeIssued.create({
        ...meta('d-one'),
        data: {
          deviceId: 'd-one',
          challengeId: 'c-1',
          nonceDigest: 'cd'.repeat(32),
          expiresAt: new Date().toISOString(),
        },
      }),
    );
    await nats.nc.publish(`${nats.namespace}.registry.device.d-one`, new TextEncoder().encode('{"not":"an event"}'));
    const second = certified('d-two');
    await append('d-two', second);

    let consumer = await consumeLifecycleEvents(nats.nc, (e) => received.push(e), { namespace: nats.namespace });
    await waitFor(() => received.length >= 2, { description: 'two public events' });
    expect(received.map((e) => fromCloudEvent(e))).toEqual([first, second]);
    expect(received[0]).toMatchObject({ type: 'io.tunnelkey.registry.DeviceCertified.v1', subject: 'd-one' });

    // Stopped and started again under the same durable name: only what was appended since.
    consumer.stop();
    const third = certified('d-three');
    await append('d-three', third);
    consumer = await consumeLifecycleEvents(nats.nc, (e) => received.push(e), { namespace: nats.namespace });
    await waitFor(() => received.length >= 3, { description: 'the event appended while stopped' });
    const ceiling = certified('d-four');
    await append('d-four', ceiling);
    await waitFor(() => received.length >= 4, { description: 'the next one' });
    consumer.stop();
    expect(received.map((e) => e.subject)).toEqual(['d-one', 'd-two', 'd-three', 'd-four']);
  });
});
