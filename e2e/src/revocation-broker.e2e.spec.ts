/**
 * Issue 6's acceptance at the broker: 100 PUF devices provisioned, onboarded to a real Mosquitto
 * that enforces CRLs, connected over mutual TLS and publishing. Ten are revoked through the
 * revocation service (RevokeDevice): they are disconnected and cannot reconnect, while the other
 * ninety keep publishing without a gap. Every observation comes from the devices' own MQTT links
 * (connect, disconnect, refused handshake), i.e. what the broker did, not what our services claim.
 */
import { randomUUID } from 'node:crypto';
import { RevokeDevice } from '@tunnelkey/contracts';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { startRevocation, type RunningRevocation } from '@tunnelkey/revocation';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';
import { operator, startPlatform, type Platform } from './support/platform.js';

/** `npm run bench:revoke` runs this flow with more devices and reads the printed latencies. */
const fleetSize = Number(process.env.REVOKE_FLEET_DEVICES ?? 100);
const revokedCount = Number(process.env.REVOKE_DEVICES ?? 10);
const nats = natsFixture({ prefix: 'rvbroker' });
const logger = pino({ level: 'warn' });

type LinkEvent = { type: string; deviceId: string; at: number; reason?: string };

describe(`revocation at the broker: ${fleetSize} connected devices, ${revokedCount} revoked`, () => {
  let platform: Platform;
  let revocation: RunningRevocation;
  let fleet: Fleet;
  const batchId = `fridges-${randomUUID().slice(0, 8)}`;
  const events: LinkEvent[] = [];
  const eventsOf = (deviceId: string, type: string, after = 0) => events.filter((e) => e.deviceId === deviceId && e.type === type && e.at >= after);

  beforeAll(async () => {
    await nats.setup();
    platform = await startPlatform({ nats: nats.nc, namespace: nats.namespace, logger, telemetryIntervalMs: 1_000 });
    revocation = await startRevocation({ nats: nats.nc, namespace: nats.namespace, env: {}, config: { httpPort: 0 } });
    fleet = await createFleet({ nats: nats.nc, namespace: nats.namespace, size: fleetSize, seedBase: `rv-broker-${batchId}`, platformPublicKey: platform.platformPublicKeySpki });
    await operator.defineBatch(platform, batchId, fleetSize);
    await operator.importIdentities(platform, fleet, batchId);
    await operator.verify(platform, batchId, fleetSize);
    await operator.certify(platform, batchId, fleetSize);
    // The broker trusts the issuing CA and enforces its CRL (the CA published the first one with the first certificates).
    const chain = operator.chainOf(fleet);
    const crl = await fetch(`${platform.ca.service.url}/crl/issuing-acme.crl`);
    expect(crl.status).toBe(200);
    const crlPem = `-----BEGIN X509 CRL-----\n${Buffer.from(await crl.arrayBuffer()).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`;
    await platform.startBroker(chain, crlPem);
    await operator.registerBroker(platform);
    await operator.onboard(platform, fleet, batchId, fleetSize);
    fleet.connect({ telemetryIntervalMs: 300, concurrency: 32, backoff: { initialMs: 200, maxMs: 1_000 }, onEvent: (e) => void events.push(e) });
    await waitFor(() => fleet.stats().mqtt.delivered === fleetSize, { description: 'every device publishing', timeoutMs: 120_000 });
  }, 600_000);

  afterAll(async () => {
    await fleet?.stop();
    await revocation?.stop();
    await platform?.stop();
    await nats.teardown();
  }, 60_000);

  it('disconnects the revoked devices, refuses their reconnects, and the others keep publishing without a gap', async () => {
    const devices = [...fleet.devices()];
    const victims = devices.slice(0, revokedCount).map((d) => d.deviceId);
    const others = devices.slice(revokedCount).map((d) => d.deviceId);
    const ackedBefore = fleet.stats().mqtt.acked;
    const revokedAt = new Map<string, number>();
    for (const deviceId of victims) {
      revokedAt.set(deviceId, Date.now());
      await platform.send(RevokeDevice, { deviceId, reason: 'keyCompromise' });
    }
    // Cut off: each victim's live session is dropped by the broker...
    await waitFor(() => victims.every((id) => eventsOf(id, 'disconnected', revokedAt.get(id)).length > 0), { description: 'revoked devices disconnected', timeoutMs: 60_000 });
    // ...and its reconnects are refused (the CRL fails the handshake, or the broker refuses the session).
    await waitFor(() => victims.every((id) => eventsOf(id, 'connect-failed', eventsOf(id, 'disconnected', revokedAt.get(id))[0]!.at).length >= 2), {
      description: 'reconnects of revoked devices refused twice each',
      timeoutMs: 60_000,
    });
    for (const id of victims) {
      const cutAt = eventsOf(id, 'disconnected', revokedAt.get(id))[0]!.at;
      expect(eventsOf(id, 'connected', cutAt)).toHaveLength(0);
    }
    const reasons = new Set(victims.flatMap((id) => eventsOf(id, 'connect-failed', revokedAt.get(id)).map((e) => e.reason)));
    expect([...reasons].every((r) => r === 'tls-refused' || r === 'connack-refused' || r === 'closed-before-connack')).toBe(true);

    // The other devices never lost their session and kept publishing.
    const firstRevocation = Math.min(...revokedAt.values());
    expect(others.filter((id) => eventsOf(id, 'disconnected', firstRevocation).length > 0)).toEqual([]);
    const ackedMid = fleet.stats().mqtt.acked;
    expect(ackedMid).toBeGreaterThan(ackedBefore);
    await waitFor(() => fleet.stats().mqtt.acked >= ackedMid + others.length, { description: 'the others go on publishing', timeoutMs: 30_000 });
    expect(fleet.stats().mqtt.connected).toBe(others.length);

    const latencies = victims.map((id) => eventsOf(id, 'disconnected', revokedAt.get(id))[0]!.at - revokedAt.get(id)!).sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
    process.stdout.write(`revoke -> disconnect at the broker (${victims.length} devices, one by one): p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${latencies.at(-1)} ms\n`);
  }, 240_000);
});
