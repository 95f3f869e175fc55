import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CertificateIssued } from '@tunnelkey/contracts';
import { describeError, isCommandRejected, type EventStore, type RecordedEvent, type Subscription } from '@tunnelkey/eventstore';
import { commandOf, derivedCommandId } from '../shared/command-metadata.js';
import { RegistryAggregates } from '../shared/registry-aggregates.js';
import { REGISTRY_EVENT_STORE, REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';

export const certificateIssuedDurable = 'registry-device-certified';

/**
 * CA -> registry: every CertificateIssued becomes DeviceCertified on the device. A durable
 * consumer shared by all registry replicas, so a restart resumes where it stopped. The CA's
 * stream may not exist yet when the registry starts: it keeps trying in the background.
 */
@Injectable()
export class CertificateIssuedSubscriber implements OnApplicationBootstrap, OnModuleDestroy {
  #subscription: Subscription | undefined;
  #stopped = false;
  #starting: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(
    @Inject(REGISTRY_EVENT_STORE) private readonly store: EventStore,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
    private readonly aggregates: RegistryAggregates,
  ) {}

  onApplicationBootstrap(): void {
    this.#starting ??= this.#start();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#starting;
    await this.#subscription?.stop();
    this.#subscription = undefined;
  }

  /** Resolves once the subscription runs (for tests and the demo). */
  async started(): Promise<void> {
    await this.#starting;
  }

  async #start(): Promise<void> {
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        this.#subscription = await this.store.subscribe({ durable: certificateIssuedDurable, context: 'ca', aggregate: 'device' }, (recorded) => this.#record(recorded));
        this.runtime.logger.info({ event: 'registry.ca_subscription_started', durable: certificateIssuedDurable }, 'following CA certificate events');
        return;
      } catch (error) {
        if (attempt === 0) {
          this.runtime.logger.warn({ event: 'registry.ca_subscription_waiting', error: describeError(error) }, 'CA stream not available yet; retrying');
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)));
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  async #record(recorded: RecordedEvent): Promise<void> {
    const { event } = recorded;
    if (!CertificateIssued.is(event)) return;
    const { deviceId, authorityId, serialNumber, fingerprintSha256, notAfter } = event.data;
    const commandId = derivedCommandId('ca', event.id);
    try {
      const result = await this.aggregates.device(
        commandOf(
          'RecordCertificate',
          { deviceId, authorityId, serialNumber, fingerprintSha256, notAfter },
          { commandId, correlationId: event.correlationId, now: this.runtime.clock().toISOString(), actor: { kind: 'service', id: 'ca' } },
        ),
      );
      if (result.events.length > 0 && !result.alreadyHandled) {
        this.runtime.logger.debug({ event: 'registry.device_certified', deviceId, serialNumber }, 'device certified');
      }
    } catch (error) {
      // A refusal is final (e.g. the device was revoked meanwhile): retrying would block every later certificate.
      if (!isCommandRejected(error)) throw error;
      this.runtime.logger.warn({ event: 'registry.certificate_not_recorded', deviceId, serialNumber, reason: error.reason, sequence: recorded.sequence }, 'certificate not recorded');
    }
  }
}
