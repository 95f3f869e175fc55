import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CertificateIssued } from '@tunnelkey/contracts';
import type { EventStore, Subscription } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { RecordCertificateHandler } from './record-certificate.handler.js';

/** One name for every instance: a restart resumes where it stopped, replicas share the work. */
export const certificateIssuedDurable = 'registry-certificate-issued';

/** CA -> registry: every CertificateIssued becomes DeviceCertified on the device (RecordCertificateHandler). */
@Injectable()
export class CertificateIssuedReaction implements OnApplicationBootstrap, OnModuleDestroy {
  #subscription: Subscription | undefined;
  #starting: Promise<void> | undefined;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly streams: RegistryStreams,
    private readonly handler: RecordCertificateHandler,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): Promise<void> {
    // Once: a hybrid app bootstraps the HTTP app and the microservice with the same providers.
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async onModuleDestroy(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    await this.#subscription?.stop();
    this.#subscription = undefined;
  }

  /** Resolves once the subscription runs. */
  async started(): Promise<void> {
    await this.#starting;
  }

  /** Resolves once every CA event written before the call is handled (tests). */
  async caughtUp(): Promise<void> {
    await this.#starting;
    await this.#subscription?.caughtUp();
  }

  async #start(): Promise<void> {
    await this.streams.ensured();
    this.#subscription = await this.store.subscribe(
      { durable: certificateIssuedDurable, context: 'ca', aggregate: 'device' },
      (recorded) => (CertificateIssued.is(recorded.event) ? this.handler.handle(recorded.event) : undefined),
    );
    this.logger.info(
      { event: 'registry.ca_subscription_started', durable: certificateIssuedDurable },
      'following CA certificate events',
    );
  }
}
