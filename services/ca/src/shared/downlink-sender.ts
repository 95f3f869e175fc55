/**
 * Platform -> device messages, signed with the platform key. Several services (registry, CA, ...)
 * write to one device's inbox and the device accepts only increasing counters, so the counter is
 * time-based (microseconds since the epoch, strictly increasing within this process) rather than a
 * per-service sequence that would restart at 1.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { DeviceBodyOf, DeviceMessageDefinition } from '@tunnelkey/contracts';
import { EnvelopeSigner, type PlatformKey } from '@tunnelkey/device-protocol';

export class DownlinkSender {
  #lastCounter = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly platformKey: PlatformKey,
    private readonly namespace: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async send<M extends DeviceMessageDefinition>(definition: M, deviceId: string, body: DeviceBodyOf<M>): Promise<void> {
    const counter = this.#nextCounter();
    // EnvelopeSigner increments before signing: start it one below the counter we want.
    const signer = new EnvelopeSigner(deviceId, counter - 1, this.clock);
    const envelope = await signer.sign(definition, body, { keyId: this.platformKey.keyId, privateKey: this.platformKey.privateKey });
    this.nc.publish(definition.subject(deviceId, this.namespace), JSON.stringify(envelope));
  }

  #nextCounter(): number {
    this.#lastCounter = Math.max(this.#lastCounter + 1, this.clock().getTime() * 1000);
    return this.#lastCounter;
  }
}
