import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { RevocationStepCompleted } from '@tunnelkey/contracts';
import type { EventStore, Subscription } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import { RegistryStreams } from '../shared/registry-streams.js';
import { RevokeDevicesHandler } from './revoke-devices.handler.js';

/** One name for every instance: a restart resumes where it stopped, replicas share the work. */
export const revocationStepsDurable = 'registry-revocation-steps';

/** Revocation saga -> registry: its completed steps, handed to RevokeDevicesHandler. */
@Injectable()
export class RevocationStepsReaction implements OnApplicationBootstrap, OnModuleDestroy {
  #subscription: Subscription | undefined;
  #starting: Promise<void> | undefined;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly streams: RegistryStreams,
    private readonly handler: RevokeDevicesHandler,
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

  /** Resolves once every revocation event written before the call is handled (tests). */
  async caughtUp(): Promise<void> {
    await this.#starting;
    await this.#subscription?.caughtUp();
  }

  async #start(): Promise<void> {
    await this.streams.ensured();
    this.#subscription = await this.store.subscribe(
      { durable: revocationStepsDurable, context: 'revocation', aggregate: 'revocation' },
      (recorded) => (RevocationStepCompleted.is(recorded.event) ? this.handler.handle(recorded.event) : undefined),
    );
  }
}
