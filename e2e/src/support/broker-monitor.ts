/**
 * An admin MQTT client at a test broker, independent of the devices: what the broker delivers on
 * `topics`, with the time each message arrived. The e2e specs and benches read telemetry gaps,
 * quarantine topics and "did data arrive" from it, never from the devices' own counters.
 */
import { randomUUID } from 'node:crypto';
import type { RunningMosquitto } from '@tunnelkey/testing';
import { connectAsync, type MqttClient } from 'mqtt';

export async function monitorBroker(
  broker: RunningMosquitto,
  name: string,
  topics: string[],
  onMessage: (topic: string, arrivedAt: number) => void,
): Promise<MqttClient> {
  const monitor = await connectAsync({
    protocol: 'mqtt',
    host: broker.host,
    port: broker.adminPort,
    username: broker.admin.username,
    password: broker.admin.password,
    clientId: `${name}-${randomUUID().slice(0, 8)}`,
    reconnectPeriod: 0,
  });
  monitor.on('message', (topic) => onMessage(topic, Date.now()));
  await monitor.subscribeAsync(topics, { qos: 0 });
  return monitor;
}
