import { Inject, Injectable } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { RejectionMessage, type DeviceBodyOf, type DeviceMessageDefinition } from '@tunnelkey/contracts';
import { DownlinkPublisher } from '@tunnelkey/device-protocol';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import { REGISTRY_RUNTIME, type RegistryRuntime } from './registry-runtime.js';

/** Signs platform -> device messages with the platform key and publishes them to the device's inbox (DownlinkPublisher, as a Nest provider). */
@Injectable()
export class DownlinkSender {
  readonly #publisher: DownlinkPublisher;

  constructor(@Inject(NATS_CONNECTION) nats: NatsConnection, @Inject(REGISTRY_RUNTIME) runtime: RegistryRuntime) {
    const { platformKey, clock, namespace } = runtime;
    this.#publisher = new DownlinkPublisher({ platformKey, publish: (subject, data) => nats.publish(subject, data), namespace, clock });
  }

  send<M extends DeviceMessageDefinition>(definition: M, deviceId: string, body: DeviceBodyOf<M>): Promise<void> {
    return this.#publisher.send(definition, deviceId, body);
  }

  /** Tells a device which of its messages was refused and why (a reason code, never its content). */
  reject(deviceId: string, inReplyTo: { kind: string; counter: number }, code: string, message?: string): Promise<void> {
    return this.send(RejectionMessage, deviceId, { inReplyTo, code, ...(message ? { message: message.slice(0, 500) } : {}) });
  }
}
