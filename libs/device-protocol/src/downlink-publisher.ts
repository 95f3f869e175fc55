import type { DeviceBodyOf, DeviceMessageDefinition } from '@tunnelkey/contracts';
import { EnvelopeSigner } from './envelope-signer.js';
import type { PlatformKey } from './platform-key.js';

/**
 * Downlink counters from the clock: microseconds since the epoch, strictly increasing within the
 * process. Several services (registry, CA, onboarding, OTA), their replicas and their restarts all
 * write to one device's inbox, and the device accepts only increasing counters; a clock-based
 * counter holds across all of them without shared storage. (Two senders within the same
 * microsecond to the same device would collide; the device refuses the second as a replay.)
 */
export class ClockCounter {
  #last = 0;
  constructor(private readonly now: () => number = Date.now) {}
  next(): number {
    this.#last = Math.max(this.#last + 1, this.now() * 1000);
    return this.#last;
  }
}

export interface DownlinkPublisherOptions {
  platformKey: PlatformKey;
  /** Publishes bytes on a subject (e.g. a NATS connection's publish). */
  publish: (subject: string, data: Uint8Array) => void;
  namespace?: string;
  clock?: () => Date;
}

const encoder = new TextEncoder();

/** The one way a platform service sends a device a message: signed with the platform key, to its inbox. */
export class DownlinkPublisher {
  readonly #counter: ClockCounter;
  readonly #clock: () => Date;

  constructor(private readonly options: DownlinkPublisherOptions) {
    this.#clock = options.clock ?? (() => new Date());
    this.#counter = new ClockCounter(() => this.#clock().getTime());
  }

  async send<M extends DeviceMessageDefinition>(definition: M, deviceId: string, body: DeviceBodyOf<M>): Promise<void> {
    const { platformKey, namespace = '' } = this.options;
    // EnvelopeSigner increments before signing: start it one below the counter we want.
    const signer = new EnvelopeSigner(deviceId, this.#counter.next() - 1, this.#clock);
    const envelope = await signer.sign(definition, body, {
      keyId: platformKey.keyId,
      privateKey: platformKey.privateKey,
    });
    this.options.publish(definition.subject(deviceId, namespace), encoder.encode(JSON.stringify(envelope)));
  }
}
