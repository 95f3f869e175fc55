/**
 * Issue 6's acceptance at the broker: PUF devices provisioned, onboarded to a real Mosquitto that
 * enforces CRLs, connected over mutual TLS and publishing. Some are revoked one by one
 * (RevokeDevice each), then a whole batch with one RevokeBatch: every revoked device is
 * disconnected and cannot reconnect, while the others keep publishing without a gap. Every
 * observation comes from the devices' own MQTT links (connect, disconnect, refused handshake), i.e.
 * what the broker did, not what our services claim.
 *
 * It prints the latencies it sees (revoke command sent -> the device's session dropped by the
 * broker); `npm run bench:revoke` (e2e/src/bench/revoke.bench.ts) measures the same flows at
 * scale, with the fleet in processes of its own.
 */
import { randomUUID } from 'node:crypto';
import { RevokeBatch, RevokeDevice } from '@tunnelkey/contracts';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { startRevocation, type RunningRevocation } from '@tunnelkey/revocation';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';
import { percentile } from './support/percentile.js';
import { operator, startPlatform, type Platform } from './support/platform.js';

const fleetSize = Number(process.env.REVOKE_FLEET_DEVICES ?? 100);
/** Revoked one by one: RevokeDevice, then the next once the broker dropped the previous one. */
const oneByOne = Number(process.env.REVOKE_DEVICES ?? 10);
/** Revoked in a burst: a RevokeDevice each, sent back to back. */
const burst = Number(process.env.REVOKE_BURST_DEVICES ?? 10);
/** The size of the batch revoked with one RevokeBatch (part of the fleet). */
const batchSize = Number(process.env.REVOKE_BATCH_DEVICES ?? 10);
const nats = natsFixture({ prefix: 'rvbroker' });
const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
/** Fleet-wide ~330 messages/s at most: one process on two cores also runs the platform and the broker's monitor. */
const telemetryIntervalMs = Math.max(300, 3 * fleetSize);

type LinkEvent = { type: string; deviceId: string; at: number; reason?: string };

const percentiles = (latencies: number[]) => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50)} ms, p99 ${percentile(sorted, 99)} ms, max ${sorted.at(-1)} ms`;
};

describe(`revocation at the broker: ${fleetSize} connected devices, ${oneByOne} revoked one by one, ${burst} in a burst, a batch of ${batchSize} at once`, () => {
  let platform: Platform;
  let revocation: RunningRevocation;
  let fleet: Fleet;
  let batchFleet: Fleet;
  const run = randomUUID().slice(0, 8);
  const mainBatch = `fridges-${run}`;
  const revokedBatch = `fridges-recalled-${run}`;
  const events: LinkEvent[] = [];
  const eventsOf = (deviceId: string, type: string, after = 0) =>
    events.filter((e) => e.deviceId === deviceId && e.type === type && e.at >= after);
  const acked = () => fleet.stats().mqtt.acked + batchFleet.stats().mqtt.acked;

  beforeAll(async () => {
    await nats.setup();
    platform = await startPlatform({ nats: nats.nc, namespace: nats.namespace, logger });
    revocation = await startRevocation({ nats: nats.nc, namespace: nats.namespace, env: {}, config: { httpPort: 0 } });
    const fleets = { [mainBatch]: fleetSize - batchSize, [revokedBatch]: batchSize };
    const created: Fleet[] = [];
    for (const [batchId, size] of Object.entries(fleets)) {
      const f = await createFleet({
        nats: nats.nc,
        namespace: nats.namespace,
        size,
        seedBase: `rv-broker-${batchId}`,
        platformPublicKey: platform.platformPublicKeySpki,
      });
      created.push(f);
      await operator.defineBatch(platform, batchId, size);
      await operator.certifyFleet(platform, f, batchId, size);
    }
    [fleet, batchFleet] = created as [Fleet, Fleet];
    // The broker trusts the target's own CA and enforces its CRL once onboarding has installed them.
    await platform.startBroker();
    await operator.registerBroker(platform);
    for (const [f, [batchId, size]] of created.map((f, i) => [f, Object.entries(fleets)[i]!] as const)) {
      await operator.onboard(platform, f, batchId, size);
      // The fleet's default reconnect backoff (1 s, doubling): what devices do, and revoked devices retrying every 200 ms would load the broker the latencies are measured on.
      f.connect({ telemetryIntervalMs, concurrency: 32, onEvent: (e) => void events.push(e) });
    }
    await waitFor(() => fleet.stats().mqtt.delivered + batchFleet.stats().mqtt.delivered === fleetSize, {
      description: 'every device publishing',
      timeoutMs: 180_000,
    });
  }, 900_000);

  afterAll(async () => {
    await fleet?.stop();
    await batchFleet?.stop();
    await revocation?.stop();
    await platform?.stop();
    await nats.teardown();
  }, 60_000);

  /** The victims' sessions were dropped after their revocation and every reconnect since was refused. */
  async function expectCutOff(victims: readonly string[], revokedAt: (deviceId: string) => number): Promise<number[]> {
    await waitFor(() => victims.every((id) => eventsOf(id, 'disconnected', revokedAt(id)).length > 0), {
      description: 'revoked devices disconnected',
      timeoutMs: 60_000,
    });
    const cutAt = (id: string) => eventsOf(id, 'disconnected', revokedAt(id))[0]!.at;
    // ...and its reconnects are refused (the CRL fails the handshake, or the broker refuses the session).
    await waitFor(() => victims.every((id) => eventsOf(id, 'connect-failed', cutAt(id)).length >= 2), {
      description: 'reconnects of revoked devices refused twice each',
      timeoutMs: 60_000,
    }).catch((error: unknown) => {
      const stuck = victims.filter((id) => eventsOf(id, 'connect-failed', cutAt(id)).length < 2).slice(0, 3);
      const { targets, certificates } = platform.onboarding.views;
      const enforced = JSON.stringify([...targets.state.targets.values()].map((t) => Object.fromEntries(t.crls)));
      const story = stuck.map(
        (id) =>
          `${id} (listed on CRL ${certificates.device(id)?.listedOnCrl}, targets enforce ${enforced}): ${events
            .filter((e) => e.deviceId === id && e.at >= revokedAt(id))
            .map((e) => `${e.type}${e.reason ? `(${e.reason})` : ''}@+${e.at - revokedAt(id)}ms`)
            .join(', ')}`,
      );
      throw new Error(`${String(error)}; e.g. ${story.join(' | ')}`);
    });
    expect(victims.filter((id) => eventsOf(id, 'connected', cutAt(id)).length > 0)).toEqual([]);
    const reasons = new Set(victims.flatMap((id) => eventsOf(id, 'connect-failed', cutAt(id)).map((e) => e.reason)));
    expect(
      [...reasons].filter((r) => r !== 'tls-refused' && r !== 'connack-refused' && r !== 'closed-before-connack'),
    ).toEqual([]);
    return victims.map((id) => cutAt(id) - revokedAt(id));
  }

  /** The devices still in good standing never lost their session and kept publishing. */
  async function expectOthersUnaffected(others: readonly string[], since: number, ackedBefore: number): Promise<void> {
    expect(others.filter((id) => eventsOf(id, 'disconnected', since).length > 0)).toEqual([]);
    const ackedMid = acked();
    expect(ackedMid).toBeGreaterThan(ackedBefore);
    await waitFor(() => acked() >= ackedMid + others.length, {
      description: 'the others go on publishing',
      timeoutMs: 60_000,
    });
    expect(fleet.stats().mqtt.connected + batchFleet.stats().mqtt.connected).toBe(others.length);
  }

  const devicesOf = (f: Fleet) => [...f.devices()].map((d) => d.deviceId);

  it('one by one: disconnects each revoked device, refuses its reconnects, and the others keep publishing without a gap', async () => {
    const victims = devicesOf(fleet).slice(0, oneByOne);
    const others = [...devicesOf(fleet).slice(oneByOne), ...devicesOf(batchFleet)];
    const ackedBefore = acked();
    const revokedAt = new Map<string, number>();
    for (const deviceId of victims) {
      revokedAt.set(deviceId, Date.now());
      await platform.send(RevokeDevice, { deviceId, reason: 'keyCompromise' });
      await waitFor(() => eventsOf(deviceId, 'disconnected', revokedAt.get(deviceId)).length > 0, {
        description: `${deviceId} disconnected`,
        timeoutMs: 30_000,
        intervalMs: 5,
      });
    }
    const latencies = await expectCutOff(victims, (id) => revokedAt.get(id)!);
    await expectOthersUnaffected(others, Math.min(...revokedAt.values()), ackedBefore);
    process.stdout.write(
      `revoke -> disconnect at the broker, ${victims.length} devices revoked one by one among ${fleetSize} connected: ${percentiles(latencies)}\n`,
    );
  }, 300_000);

  it('in a burst: revocations sent back to back cut off every device, and the others keep publishing without a gap', async () => {
    const victims = devicesOf(fleet).slice(oneByOne, oneByOne + burst);
    const others = [...devicesOf(fleet).slice(oneByOne + burst), ...devicesOf(batchFleet)];
    const ackedBefore = acked();
    const revokedAt = new Map<string, number>();
    for (const deviceId of victims) {
      revokedAt.set(deviceId, Date.now());
      await platform.send(RevokeDevice, { deviceId, reason: 'keyCompromise' });
    }
    const latencies = await expectCutOff(victims, (id) => revokedAt.get(id)!);
    await expectOthersUnaffected(others, Math.min(...revokedAt.values()), ackedBefore);
    process.stdout.write(
      `revoke -> disconnect at the broker, ${victims.length} devices revoked in a burst (one command each, back to back) among ${fleetSize - oneByOne} connected: ${percentiles(latencies)}\n`,
    );
  }, 300_000);

  it('as one batch: one RevokeBatch cuts off every device of the batch, and the others keep publishing without a gap', async () => {
    const victims = devicesOf(batchFleet);
    const others = devicesOf(fleet).slice(oneByOne + burst);
    const ackedBefore = acked();
    const revokedAt = Date.now();
    const started = await platform.send<{ devices: number }>(RevokeBatch, {
      batchId: revokedBatch,
      reason: 'cessationOfOperation',
    });
    expect(started.devices).toBe(batchSize);
    const latencies = await expectCutOff(victims, () => revokedAt);
    await expectOthersUnaffected(others, revokedAt, ackedBefore);
    process.stdout.write(
      `revoke -> disconnect at the broker, a batch of ${victims.length} revoked with one command among ${fleetSize - oneByOne - burst} connected: ${percentiles(latencies)}\n`,
    );
  }, 300_000);
});
