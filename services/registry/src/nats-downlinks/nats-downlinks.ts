import { Inject, Injectable } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DeviceBodyOf, DeviceMessageDefinition } from '@tunnelkey/contracts';
import { DownlinkPublisher, type PlatformKey } from '@tunnelkey/device-protocol';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import type { RegistryConfig } from '../config.js';
import type { Downlinks } from '../downlink-port/downlinks.js';
import type { Clock } from '../shared/clock.js';
import { PLATFORM_KEY, REGISTRY_CLOCK, REGISTRY_CONFIG } from '../tokens.js';

/** The Downlinks port on NATS: signs with the platform key and publishes to `dev.<deviceId>.inbox.<kind>`. */
@Injectable()
export class NatsDownlinks implements Downlinks {
  readonly #publisher: DownlinkPublisher;

  constructor(
    @Inject(NATS_CONNECTION) nats: NatsConnection,
    @Inject(PLATFORM_KEY) platformKey: PlatformKey,
    @Inject(REGISTRY_CONFIG) config: RegistryConfig,
    @Inject(REGISTRY_CLOCK) clock: Clock,
  ) {
    this.#publisher = new DownlinkPublisher({
      platformKey,
      publish: (subject, data) => nats.publish(subject, data),
      namespace: config.namespace,
      clock,
    });
  }

  send<M extends DeviceMessageDefinition>(definition: M, deviceId: string, body: DeviceBodyOf<M>): Promise<void> {
    return this.#publisher.send(definition, deviceId, body);
  }
}
