/**
 * The simulated fleet in a process of its own, for benches that account CPU per process: the
 * devices' cycles (PUF reads and key derivations on nice-19 silicon threads, their protocol
 * handling on this process's main thread) are then never counted as the platform's. Driven over
 * the IPC channel of `fork` (FleetProcess in fleet-ipc.ts).
 */
import { connectNats, natsConnectionConfig, natsConnectionOptions } from '@tunnelkey/config';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import type { MqttLinkEvent } from '@tunnelkey/device-fleet';
import type { FleetLinks, FleetReply, FleetRequest } from './fleet-ipc.js';
import { RawMqttClients } from './raw-mqtt-clients.js';

const reply = (message: FleetReply | FleetLinks) => process.send!(message);

let links: MqttLinkEvent[] = [];
const flushLinks = () => {
  if (links.length === 0) return;
  reply({ type: 'links', events: links });
  links = [];
};

let fleet: Fleet | undefined;
let raw: RawMqttClients | undefined;

async function handle(request: FleetRequest): Promise<void> {
  switch (request.type) {
    case 'manufacture': {
      const nc = await connectNats(
        await natsConnectionOptions(natsConnectionConfig(process.env), {
          name: 'bench-fleet',
          servers: request.natsUrl,
        }),
      );
      fleet = await createFleet({
        nats: nc,
        namespace: request.namespace,
        size: request.size,
        seedBase: request.seedBase,
        platformPublicKey: Buffer.from(request.platformPublicKeySpki, 'base64'),
        hardwareThreads: request.hardwareThreads,
        // Each device holds its own inbox: messages wait for the simulation's crypto slots, none is dropped.
        maxQueued: Math.max(50_000, 2 * request.size),
      });
      reply({ type: 'manufactured', identityFileJson: fleet.identityFile('json') });
      return;
    }
    case 'stats': {
      const stats = fleet!.stats();
      reply({ type: 'stats', byState: stats.byState, mqtt: stats.mqtt });
      return;
    }
    case 'connect': {
      setInterval(flushLinks, 50).unref();
      const summary = fleet!.connect({
        telemetryIntervalMs: request.telemetryIntervalMs,
        concurrency: request.concurrency,
        onEvent: (event) => void links.push(event),
      });
      reply({ type: 'connecting', started: summary.started });
      return;
    }
    case 'devices': {
      reply({ type: 'devices', deviceIds: [...fleet!.devices()].map((d) => d.deviceId) });
      return;
    }
    case 'heartbeats': {
      fleet!.heartbeats.start(request.periodMs);
      reply({ type: 'heartbeating' });
      return;
    }
    case 'inject': {
      for (const deviceId of request.deviceIds) fleet!.heartbeats.inject(deviceId, request.fault);
      reply({ type: 'injected', at: Date.now() });
      return;
    }
    case 'heartbeat-stats': {
      reply({ type: 'heartbeat-stats', stats: fleet!.heartbeats.stats() });
      return;
    }
    case 'raw-prepare': {
      raw = await RawMqttClients.prepare(fleet!, request.targetId);
      reply({ type: 'raw-prepared', clients: raw.size });
      return;
    }
    case 'raw-connect': {
      reply({ type: 'raw-connected', ...(await raw!.connect(request.concurrency)) });
      return;
    }
    case 'raw-end': {
      await raw?.end();
      raw = undefined;
      reply({ type: 'raw-ended' });
      return;
    }
    case 'stop': {
      await raw?.end();
      await fleet?.stop();
      reply({ type: 'stopped' });
      process.exit(0);
    }
  }
}

process.on('message', (request: FleetRequest) => {
  handle(request).catch((error: unknown) => {
    reply({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});
