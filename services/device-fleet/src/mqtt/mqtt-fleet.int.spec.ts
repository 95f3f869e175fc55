/**
 * How MqttFleet schedules connection attempts: a device derives its key while it waits for a
 * handshake slot, at most `concurrency` handshakes are in flight, and at most `concurrency` more
 * devices hold a derived key. The "broker" is a TCP server that accepts and never answers the TLS
 * ClientHello, so handshakes stay in flight for as long as the test wants.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { waitFor } from '@tunnelkey/testing';
import { SimulatedDevice } from '../simulated-device/simulated-device.js';
import { memoryTransport, testCa } from '../testing/platform-double.test-helper.js';
import { MqttFleet } from './mqtt-fleet.js';

describe('MqttFleet attempt scheduling', () => {
  let server: Server;
  let port: number;
  const open = new Set<Socket>();
  let mostOpen = 0;
  let hangUp = false;

  beforeAll(async () => {
    server = createServer((socket) => {
      socket.on('error', () => undefined);
      if (hangUp) return void socket.destroy();
      open.add(socket);
      mostOpen = Math.max(mostOpen, open.size);
      socket.on('close', () => open.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('two handshakes in flight, two more devices derived ahead, the rest wait underived; failures free the slots for them', async () => {
    const ca = await testCa();
    const transport = memoryTransport();
    const derivations: string[] = [];
    const devices: SimulatedDevice[] = [];
    for (let i = 0; i < 8; i++) {
      const device = await SimulatedDevice.manufacture({ seed: `lookahead-${i}`, transport });
      const spki = await device.withKeys(['tls-0'], async (keys) => keys.get('tls-0')!.publicKeySpki);
      const certificate = await ca.issue(device.deviceId, spki);
      device.flash.certificates['tls-0'] = {
        requestId: `r-${i}`,
        serialNumber: certificate.serialHex,
        certificatePem: certificate.pem,
        chainPem: [],
        notAfter: certificate.notAfter.toISOString(),
      };
      device.flash.connections['hanging-broker'] = {
        endpoint: { protocol: 'mqtts', host: '127.0.0.1', port },
        clientId: device.deviceId,
        topicPrefix: `fridges/${device.deviceId}`,
      };
      const withKeys = device.withKeys.bind(device);
      device.withKeys = (keyIds, use) => {
        derivations.push(device.deviceId);
        return withKeys(keyIds, use);
      };
      devices.push(device);
    }
    const fleet = new MqttFleet({
      concurrency: 2,
      connectTimeoutMs: 60_000,
      tickMs: 20,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    try {
      expect(fleet.connectAll(devices).started).toBe(8);
      await waitFor(() => open.size === 2 && derivations.length === 4, {
        description: 'two handshakes open and two keys derived ahead',
      });
      // Nothing more starts while both handshakes hang: no third handshake, no fifth derivation.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(open.size).toBe(2);
      expect(derivations).toHaveLength(4);
      expect(fleet.stats()).toMatchObject({ links: 8, queued: 4, connecting: 4, connected: 0 });

      // The broker hangs up on everyone from now on: each failed handshake lets one derived device in and one more derive.
      hangUp = true;
      for (const socket of open) socket.destroy();
      await waitFor(() => new Set(derivations).size === 8 && fleet.stats().waiting === 8, {
        description: 'every device tried once and waits for its retry',
      });
      expect(derivations).toHaveLength(8);
      expect(mostOpen).toBe(2);
      expect(Object.values(fleet.stats().failuresByReason).reduce((a, b) => a + (b ?? 0), 0)).toBe(8);
    } finally {
      await fleet.close();
    }
  });
});
