import { emptyMqttStats } from '../mqtt/mqtt-fleet.js';
import { fleetMetricsText } from './fleet-metrics.js';
import { emptyByState, type FleetStats } from './fleet-stats.js';

const stats = (): FleetStats => ({
  size: 3,
  byState: { ...emptyByState(), certified: 2, offline: 1 },
  faults: { offline: 1, tamperedHelperData: 0, tamperedFirmware: 0 },
  messages: {
    received: 10,
    accepted: 8,
    refused: 2,
    offlineDrops: 0,
    overloadDrops: 0,
    unknownDevice: 0,
    sent: 12,
    keyFailures: 0,
    platformRejections: 0,
  },
  refusedByCode: { 'bad-"signature"': 2 },
  sentByKind: { csr: 2 },
  inFlight: { active: 1, waiting: 0 },
  hardware: { threads: 0, pending: 0 },
  mqtt: { ...emptyMqttStats(), links: 2, connected: 2, failuresByReason: { 'tls-refused': 1 } },
  firmware: {},
});

describe("fleetMetricsText: the fleet's statistics as Prometheus text", () => {
  it('writes each family with its HELP and TYPE, one sample per label value, label values escaped', () => {
    const text = fleetMetricsText(stats());
    expect(text).toContain('# TYPE fleet_devices_by_state gauge\n');
    expect(text).toContain('fleet_devices_by_state{state="certified"} 2\n');
    expect(text).toContain('fleet_messages_total{outcome="accepted"} 8\n');
    expect(text).toContain('fleet_refused_total{code="bad-\\"signature\\""} 2\n');
    expect(text).toContain('fleet_mqtt_links{state="connected"} 2\n');
    expect(text).toContain('fleet_mqtt_failures_total{reason="tls-refused"} 1\n');
    expect(text.endsWith('\n')).toBe(true);
    // Every sample line is `name{labels} number` or `name number`.
    const samples = text.split('\n').filter((line) => line && !line.startsWith('#'));
    for (const line of samples) expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? \d+$/);
  });
});
