import { InMemoryEventStore, InMemorySnapshotStore, type StreamRef } from '@tunnelkey/eventstore';
import pino from 'pino';
import type { OnboardingConfig } from '../config.js';
import type { DeviceCommand } from '../deciders/device.decider.js';
import { DeviceWriter } from './device-writer.js';

const now = '2026-01-01T00:00:00.000Z';
const stream: StreamRef = { context: 'onboarding', aggregate: 'device', id: 'd-1' };
const onboarding = (targetId: string) => ({
  deviceId: 'd-1',
  targetId,
  batchId: 'b-1',
  policyId: 'p-1',
  clientId: 'd-1',
  roleName: 'role-d-1',
  topicPrefix: 'devices/d-1',
});
const onboard = (targetId: string, commandId: string): DeviceCommand => ({
  type: 'RecordOnboarded',
  data: onboarding(targetId),
  metadata: { commandId, now },
});

/** Two instances on one log: what one wrote, the other's cache knows nothing of. */
function twoWriters() {
  const store = new InMemoryEventStore({ logger: pino({ level: 'silent' }) });
  const config = { maxConcurrentAppends: 4, deviceStateCacheSize: 100 } as OnboardingConfig;
  const writer = () => new DeviceWriter(store, new InMemorySnapshotStore(), config, pino({ level: 'silent' }));
  return { store, other: writer(), writer: writer() };
}

const types = async (store: InMemoryEventStore) => (await store.read(stream)).events.map((r) => r.event.type);

describe('DeviceWriter: a record guessed to be the first on its stream (likelyNew)', () => {
  it('on an empty stream: written', async () => {
    const { store, writer } = twoWriters();
    await writer.record('d-1', onboard('broker-1', 'c-1'), 'records', { likelyNew: true });
    expect(await types(store)).toEqual(['DeviceOnboarded']);
  });

  it('on a stream another instance wrote to: decided on the log and appended after it', async () => {
    const { store, other, writer } = twoWriters();
    const failure = { deviceId: 'd-1', targetId: 'broker-1', reason: 'target-unreachable' as const };
    await other.record('d-1', { type: 'RecordOnboardingFailed', data: failure, metadata: { commandId: 'c-0', now } });
    await writer.record('d-1', onboard('broker-1', 'c-1'), 'records', { likelyNew: true });
    expect(await types(store)).toEqual(['DeviceOnboardingFailed', 'DeviceOnboarded']);
  });

  it('on the stream of a device revoked meanwhile: refused (device-revoked), nothing appended', async () => {
    const { store, other, writer } = twoWriters();
    await other.record('d-1', onboard('broker-1', 'c-0'));
    const revoked = { deviceId: 'd-1', targetId: 'broker-1', reason: 'revoked' as const, revocationId: 'rv-1' };
    await other.record('d-1', { type: 'RecordDeprovisioned', data: revoked, metadata: { commandId: 'c-r', now } });
    await expect(
      writer.record('d-1', onboard('broker-2', 'c-1'), 'records', { likelyNew: true }),
    ).rejects.toMatchObject({ reason: 'device-revoked' });
    expect(await types(store)).toEqual(['DeviceOnboarded', 'DeviceDeprovisioned']);
  });

  it('a command another instance already wrote: not written twice', async () => {
    const { store, other, writer } = twoWriters();
    await other.record('d-1', onboard('broker-1', 'c-1'));
    await writer.record('d-1', onboard('broker-1', 'c-1'), 'records', { likelyNew: true });
    expect(await types(store)).toEqual(['DeviceOnboarded']);
  });
});
