/**
 * The fleet's statistics in the Prometheus text format (version 0.0.4), served on /metrics when
 * FLEET_METRICS_PORT is set: load tests read the devices' side from the same scrape as the
 * platform's. No dependency: the format is a few lines of text.
 */
import { createServer, type Server } from 'node:http';
import type { FleetStats } from './fleet-stats.js';

export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;
interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: [Labels, number][];
}

const escape = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelsText = (labels: Labels) => {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
};
const byLabel = (label: string, counts: Record<string, number | undefined>): [Labels, number][] =>
  Object.entries(counts).map(([key, value]) => [{ [label]: key }, value ?? 0]);

/** Every family of the fleet's statistics. */
export function fleetMetricsText(stats: FleetStats): string {
  const m = stats.messages;
  const q = stats.mqtt;
  const families: Family[] = [
    { name: 'fleet_devices', help: 'Simulated devices', type: 'gauge', samples: [[{}, stats.size]] },
    {
      name: 'fleet_devices_by_state',
      help: 'Devices by protocol state',
      type: 'gauge',
      samples: byLabel('state', stats.byState),
    },
    {
      name: 'fleet_messages_total',
      help: 'Device-protocol messages by outcome (received, accepted, refused, sent, drops, key failures, platform rejections)',
      type: 'counter',
      samples: byLabel('outcome', { ...m }),
    },
    {
      name: 'fleet_refused_total',
      help: 'Platform messages the devices refused, by code',
      type: 'counter',
      samples: byLabel('code', stats.refusedByCode),
    },
    {
      name: 'fleet_sent_total',
      help: 'Uplinks sent, by kind',
      type: 'counter',
      samples: byLabel('kind', stats.sentByKind),
    },
    {
      name: 'fleet_crypto_in_flight',
      help: 'Device crypto work running and waiting',
      type: 'gauge',
      samples: [
        [{ phase: 'active' }, stats.inFlight.active],
        [{ phase: 'waiting' }, stats.inFlight.waiting],
      ],
    },
    {
      name: 'fleet_mqtt_links',
      help: 'MQTT links (device x target) by state',
      type: 'gauge',
      samples: byLabel('state', {
        all: q.links,
        queued: q.queued,
        connecting: q.connecting,
        connected: q.connected,
        waiting: q.waiting,
        publishing: q.publishing,
        delivered: q.delivered,
      }),
    },
    {
      name: 'fleet_mqtt_events_total',
      help: 'MQTT connection attempts, connects, disconnects, telemetry published, acknowledged and refused',
      type: 'counter',
      samples: byLabel('event', {
        attempt: q.attempts,
        connect: q.connects,
        disconnect: q.disconnects,
        published: q.published,
        acked: q.acked,
        refused: q.publishRefused,
      }),
    },
    {
      name: 'fleet_mqtt_failures_total',
      help: 'MQTT connection failures by reason',
      type: 'counter',
      samples: byLabel('reason', q.failuresByReason),
    },
    {
      name: 'fleet_firmware_total',
      help: 'Over-the-air update steps by event',
      type: 'counter',
      samples: byLabel('event', stats.firmware),
    },
  ];
  return families
    .map((f) =>
      [
        `# HELP ${f.name} ${f.help}`,
        `# TYPE ${f.name} ${f.type}`,
        ...f.samples.map(([labels, value]) => `${f.name}${labelsText(labels)} ${value}`),
      ].join('\n'),
    )
    .join('\n')
    .concat('\n');
}

/** /metrics (and /health) of the fleet on `port`; resolves once listening. */
export async function serveFleetMetrics(stats: () => FleetStats, port: number, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url === '/metrics') {
      response.writeHead(200, { 'content-type': prometheusContentType }).end(fleetMetricsText(stats()));
    } else if (request.url === '/health') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok","service":"fleet"}');
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return server;
}
