import { Inject, Injectable } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { RejectionMessage, type DeviceBodyOf, type DeviceMessageDefinition } from '@tunnelkey/contracts';
import { EnvelopeSigner } from '@tunnelkey/device-protocol';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import { REGISTRY_RUNTIME, type RegistryRuntime } from './registry-runtime.js';

/**
 * Downlink counters from the clock (microseconds since the epoch, strictly increasing here): a
 * device's counter check must hold across registry restarts and replicas, and alongside the CA
 * and other services that sign downlinks with the same platform key, without shared storage.
 */
export class ClockCounter {
  #last = 0;
  constructor(private readonly now: () => number = Date.now) {}
  next(): number {
    this.#last = Math.max(this.#last + 1, this.now() * 1000);
    return this.#last;
  }
}

const encoder = new TextEncoder();

/** Signs platform -> device messages with the platform key and publishes them to the device's inbox. */
@Injectable()
export class DownlinkSender {
  readonly #counter = new ClockCounter();

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  async send<M extends DeviceMessageDefinition>(definition: M, deviceId: string, body: DeviceBodyOf<M>): Promise<void> {
    const { platformKey, clock, namespace } = this.runtime;
    const signer = new EnvelopeSigner(deviceId, this.#counter.next() - 1, clock);
    const envelope = await signer.sign(definition, body, { keyId: platformKey.keyId, privateKey: platformKey.privateKey });
    this.nats.publish(definition.subject(deviceId, namespace), encoder.encode(JSON.stringify(envelope)));
  }

  /** Tells a device which of its messages was refused and why (a reason code, never its content). */
  reject(deviceId: string, inReplyTo: { kind: string; counter: number }, code: string, message?: string): Promise<void> {
    return this.send(RejectionMessage, deviceId, { inReplyTo, code, ...(message ? { message: message.slice(0, 500) } : {}) });
  }
}
