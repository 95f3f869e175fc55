/**
 * Platform -> device messages signed with the platform key. Several services write to one inbox
 * and the device accepts only increasing counters, so the counter is time-based (microseconds),
 * strictly increasing within this process.
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
    this.#lastCounter = Math.max(this.#lastCounter + 1, this.clock().getTime() * 1000);
    // EnvelopeSigner increments before signing: start it one below the counter we want.
    const signer = new EnvelopeSigner(deviceId, this.#lastCounter - 1, this.clock);
    const envelope = await signer.sign(definition, body, { keyId: this.platformKey.keyId, privateKey: this.platformKey.privateKey });
    this.nc.publish(definition.subject(deviceId, this.namespace), JSON.stringify(envelope));
  }
}
