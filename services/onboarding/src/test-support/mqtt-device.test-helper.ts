/** A device's MQTT side for tests: mutual TLS with its certificate, as the simulated fleet will do. */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import type { TestDevice } from './test-pki.test-helper.js';

export interface DeviceConnectOptions {
  host?: string;
  port: number;
  serverCaPem: string;
  clientId?: string;
  /** Omit the certificate (a client without one). */
  withoutCertificate?: boolean;
}

export function deviceMqttOptions(device: TestDevice | undefined, options: DeviceConnectOptions): IClientOptions {
  return {
    protocol: 'mqtts',
    host: options.host ?? '127.0.0.1',
    port: options.port,
    ca: options.serverCaPem,
    ...(device && !options.withoutCertificate ? { cert: device.certificatePem, key: device.keyPem } : {}),
    clientId: options.clientId ?? device?.deviceId ?? 'anonymous',
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    rejectUnauthorized: true,
  };
}

export function connectDevice(device: TestDevice | undefined, options: DeviceConnectOptions): Promise<MqttClient> {
  return connectAsync(deviceMqttOptions(device, options));
}

/** Resolves when the client's connection closes (kicked, or refused). */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', () => resolve());
  });
}
