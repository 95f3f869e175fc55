/**
 * Slice tests: a registry handler on the in-memory event store, with the real views and in-memory
 * doubles of the other ports. given(events) -> when(the handler) -> then(what it wrote, replied, sent).
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { DeviceEnvelope, EventEnvelope } from '@tunnelkey/contracts';
import { InMemoryEventStore, toEnvelope, type StreamRef } from '@tunnelkey/eventstore';
import { ReadinessRegistry } from '@tunnelkey/messaging';
import { identityFromPublicKey } from '@tunnelkey/puf';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { registryConfig } from '../config.js';
import { InMemoryDownlinks } from '../downlink-port/in-memory-downlinks.js';
import { AnnouncedDevices } from '../shared/announced-devices.js';
import { BatchAdmission } from '../shared/batch-admission.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { RegistryMetrics } from '../shared/registry-metrics.js';
import { RegistryStreams } from '../shared/registry-streams.js';
import { BatchSummaryView } from '../views/batch-summary.view.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';
import { EnrolmentKeyRequestsView } from '../views/enrolment-key-requests.view.js';
import { QueuedChallengesView } from '../views/queued-challenges.view.js';

/** An event as a test writes it: the handler's envelope fields are filled in by `given`. */
export interface GivenEvent {
  type: string;
  version?: number;
  data: unknown;
}

/** What a handler wrote, as a test reads it. */
export interface WrittenEvent {
  aggregateId: string;
  type: string;
  data: unknown;
}

export const sliceNow = new Date('2026-03-01T12:00:00.000Z');

export type RegistrySlice = Awaited<ReturnType<typeof registrySlice>>;

/**
 * `store`: another slice's store, as a registry restarted on the same log sees it (fresh views,
 * caches and doubles); `env`: configuration variables.
 */
export async function registrySlice(options: { store?: InMemoryEventStore; env?: Record<string, string> } = {}) {
  const logger = pino({ level: 'silent' });
  const store = options.store ?? new InMemoryEventStore({ logger });
  let now = sliceNow;
  const clock = () => now;
  const config = registryConfig.read(options.env ?? {});
  const readiness = new ReadinessRegistry();
  const streams = new RegistryStreams(store);
  const devices = new DeviceByIdView(store, streams, readiness, logger);
  const batches = new BatchSummaryView(store, streams, readiness, logger, devices);
  const requests = new EnrolmentKeyRequestsView(store, streams, readiness, logger);
  const queuedChallenges = new QueuedChallengesView(store, streams, readiness, logger);
  const views = [devices, batches, requests, queuedChallenges];
  await Promise.all(views.map((view) => view.onModuleInit()));
  let givenCount = 0;
  let writtenFrom = 1;

  const written = async (context: 'registry' | 'ca' | 'revocation' = 'registry'): Promise<WrittenEvent[]> => {
    const events: WrittenEvent[] = [];
    await store.replay(
      context,
      ({ event }) => void events.push({ aggregateId: event.aggregateId, type: event.type, data: event.data }),
      {
        fromSequence: context === 'registry' ? writtenFrom : 1,
      },
    );
    return events;
  };

  return {
    store,
    streams,
    logger,
    clock,
    config,
    readiness,
    devices,
    batches,
    requests,
    queuedChallenges,
    deviceStates: new DeviceStateCache(devices),
    admission: new BatchAdmission(store, devices, logger),
    announced: new AnnouncedDevices(config),
    downlinks: new InMemoryDownlinks(),
    metrics: new RegistryMetrics(new Registry()),
    /** Moves the clock the handlers read. */
    setNow(at: Date) {
      now = at;
    },
    /** The past of one stream; the views have folded it in when this resolves. */
    async given(stream: StreamRef, events: readonly GivenEvent[]): Promise<void> {
      const commandId = `given-${++givenCount}`;
      const command = { type: 'Given', data: {}, metadata: { commandId, now: now.toISOString() } };
      const envelopes = events.map((e, i) =>
        toEnvelope<EventEnvelope>({ version: 1, ...e } as never, stream, command, i),
      );
      const { version } = await store.append(stream, envelopes, { expectedVersion: 'any', messageId: commandId });
      if (stream.context === 'registry') writtenFrom = version + 1;
      await Promise.all(views.map((view) => view.catchUp()));
    },
    /** The registry's events written since the last `given` (or every event of another context). */
    written,
    /** Waits until the views hold everything written so far. */
    async settled(): Promise<void> {
      await Promise.all(views.map((view) => view.catchUp()));
    },
    async stop(): Promise<void> {
      await Promise.all(views.map((view) => view.onModuleDestroy()));
    },
  };
}

/** A device identity as an import file or an announcement carries it: a real P-256 key, id = its digest. */
export function sliceDevice() {
  const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
  return {
    deviceId: identityFromPublicKey(spki),
    enrolmentPublicKey: spki.toString('base64'),
    enrolmentKeyDigest: createHash('sha256').update(spki).digest('hex'),
  };
}

let counter = 0;

/** A verified device message as the uplink controller hands it over (the signature was checked before). */
export function uplink<K extends string, B>(kind: K, deviceId: string, body: B): DeviceEnvelope<K, B> {
  counter++;
  return {
    version: 1,
    deviceId,
    kind,
    counter,
    nonce: `n-${counter}`,
    sentAt: sliceNow.toISOString(),
    keyId: 'enrolment',
    body,
    signature: 'checked',
  };
}

export type SliceDevice = ReturnType<typeof sliceDevice>;

export const slicePolicy = {
  policyId: 'fridges',
  name: 'Fridges on the EU broker',
  targetIds: ['mosquitto-eu'],
  topicRights: [{ topic: 'fridges/{deviceId}/#', access: 'publish-subscribe' as const }],
  certificateLifetimeDays: 365,
};

export const policyDefined: GivenEvent = { type: 'ServerPolicyDefined', data: slicePolicy };

export const batchCreated = (batchId: string, expectedSize = 10): GivenEvent => ({
  type: 'BatchCreated',
  data: { batchId, name: batchId, policyId: slicePolicy.policyId, ownerId: 'acme', expectedSize },
});

export const deviceImported = (device: SliceDevice, batchId: string): GivenEvent => ({
  type: 'DeviceIdentityImported',
  data: {
    deviceId: device.deviceId,
    batchId,
    importId: 'file-0',
    source: 'json',
    enrolmentPublicKey: device.enrolmentPublicKey,
    enrolmentKeyDigest: device.enrolmentKeyDigest,
  },
});

export const firmware = 'ab'.repeat(32);

export const deviceAnnounced = (device: SliceDevice): GivenEvent => ({
  type: 'DeviceAnnounced',
  data: { ...device, firmwareMeasurement: firmware },
});
