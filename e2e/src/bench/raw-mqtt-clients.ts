/**
 * bench:onboard's baseline: plain mqtt.js clients connecting with the devices' own certificates and
 * keys, as any MQTT/TLS client does (a key and a certificate, a TLS context built per connection),
 * where the devices are already authorised. Runs in the fleet process (fleet-process.ts), so the
 * baseline and the fleet share one process layout and differ only by what a device does on top.
 */
import { KeyObject } from 'node:crypto';
import { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import type { Fleet } from '@tunnelkey/device-fleet';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';

export interface RawConnectResult {
  /** Date.now() when the first connect was started. */
  started: number;
  /** Date.now() of each CONNACK. */
  connectedAt: number[];
  failed: number;
}

export class RawMqttClients {
  readonly #options: IClientOptions[];
  #clients: MqttClient[] = [];

  private constructor(options: IClientOptions[]) {
    this.#options = options;
  }

  /**
   * Each onboarded device's connection parameters for `targetId` and its TLS key, derived from its
   * PUF now (not timed), as PKCS#8 PEM in memory only.
   */
  static async prepare(fleet: Fleet, targetId: string): Promise<RawMqttClients> {
    const options: IClientOptions[] = [];
    for (const device of fleet.devices()) {
      const parameters = device.flash.connections[targetId];
      if (!parameters) continue;
      const key = await device.withKeys(
        ['tls-0'],
        async (keys) =>
          KeyObject.from(keys.get('tls-0')!.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
      );
      options.push({
        protocol: 'mqtts',
        host: parameters.endpoint.host,
        port: parameters.endpoint.port,
        clientId: parameters.clientId,
        key,
        // The target certificate its onboarding issued (the broker trusts only the target's CA).
        cert: parameters.clientCertificatePem ?? device.flash.certificates['tls-0']!.certificatePem,
        ...(parameters.serverCaPem ? { ca: parameters.serverCaPem } : {}),
        protocolVersion: 5,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
      });
    }
    return new RawMqttClients(options);
  }

  get size(): number {
    return this.#options.length;
  }

  /** Connects every client, `concurrency` handshakes at a time; resolves once each got CONNACK or closed. */
  async connect(concurrency: number): Promise<RawConnectResult> {
    const limiter = new ConcurrencyLimiter(concurrency);
    const connectedAt: number[] = [];
    let failed = 0;
    const started = Date.now();
    await Promise.all(
      this.#options.map((options) =>
        limiter.run(
          () =>
            new Promise<void>((resolve) => {
              const client = connect(options);
              let connected = false;
              client.once('connect', () => {
                connected = true;
                connectedAt.push(Date.now());
                this.#clients.push(client);
                resolve();
              });
              client.once('close', () => {
                if (connected) return;
                failed++;
                resolve();
              });
              client.on('error', () => undefined);
            }),
        ),
      ),
    );
    return { started, connectedAt, failed };
  }

  /** Ends every connected client; the keys and clients are dropped. */
  async end(): Promise<void> {
    await Promise.all(this.#clients.map((client) => client.endAsync(true).catch(() => undefined)));
    this.#clients = [];
    this.#options.length = 0;
  }
}
