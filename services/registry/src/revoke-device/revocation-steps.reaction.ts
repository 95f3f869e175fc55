import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { RevocationRequested, RevocationStepCompleted } from '@tunnelkey/contracts';
import { describeError, handleCommand, isCommandRejected, type EventStore, type RecordedEvent, type Subscription } from '@tunnelkey/eventstore';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { derivedCommandId } from '../shared/command-metadata.js';
import { mapBounded } from '../shared/concurrency.js';
import { deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_EVENT_STORE, REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';
import { revokeDeviceDecider } from './revoke-device.decider.js';

export const revocationStepsDurable = 'registry-revoke-devices';

/**
 * Revocation saga -> registry: once the saga reports every target cut off (`targets-deprovisioned`
 * for the whole revocation), each device becomes Revoked, so it can never be imported, verified,
 * certified or onboarded again. A durable consumer shared by all replicas; command ids derive from
 * the revocation and device, so a redelivery writes nothing twice.
 */
@Injectable()
export class RevocationStepsSubscriber implements OnApplicationBootstrap, OnModuleDestroy {
  #subscription: Subscription | undefined;
  #starting: Promise<void> | undefined;

  constructor(
    @Inject(REGISTRY_EVENT_STORE) private readonly store: EventStore,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  onApplicationBootstrap(): void {
    // Once: a hybrid app bootstraps the HTTP app and the microservice with the same providers.
    this.#starting ??= this.#start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.#starting;
    await this.#subscription?.stop();
    this.#subscription = undefined;
  }

  /** Resolves once the subscription runs (tests). */
  started(): Promise<void> | undefined {
    return this.#starting;
  }

  async #start(): Promise<void> {
    // Same stream configuration every service applies: the registry may start before the revocation service.
    if (this.store instanceof JetStreamEventStore) await this.store.ensureStreams(['revocation']);
    this.#subscription = await this.store.subscribe({ durable: revocationStepsDurable, context: 'revocation', aggregate: 'revocation' }, (recorded) => this.#handle(recorded));
  }

  async #handle(recorded: RecordedEvent): Promise<void> {
    const { event } = recorded;
    if (!RevocationStepCompleted.is(event) || event.data.step !== 'targets-deprovisioned' || event.data.targetId !== undefined) return;
    const { revocationId } = event.data;
    const { events } = await this.store.read({ context: 'revocation', aggregate: 'revocation', id: revocationId });
    const request = events.map((r) => r.event).find((e) => RevocationRequested.is(e));
    if (!request || !RevocationRequested.is(request)) {
      this.runtime.logger.warn({ event: 'registry.revocation_without_request', revocationId }, 'revocation step without its request; ignored');
      return;
    }
    const { deviceIds, reason } = request.data;
    const now = this.runtime.clock().toISOString();
    await mapBounded(deviceIds, this.runtime.bulkConcurrency, async (deviceId) => {
      try {
        await handleCommand({
          store: this.store,
          decider: revokeDeviceDecider,
          stream: deviceStream(deviceId),
          command: {
            type: 'RevokeDevice',
            data: { deviceId, revocationId, reason, revokedAt: request.occurredAt },
            metadata: { commandId: derivedCommandId(`revocation-${revocationId}`, deviceId), correlationId: request.correlationId, now, actor: { kind: 'service', id: 'revocation' } },
          },
          logger: this.runtime.logger,
          maxRetries: 10,
        });
      } catch (error) {
        // A refusal is final (the device is unknown here): retrying would block every later revocation.
        if (!isCommandRejected(error)) throw error;
        this.runtime.logger.warn({ event: 'registry.device_not_revoked', deviceId, revocationId, reason: error.reason, error: describeError(error) }, 'device not revoked');
      }
    });
    this.runtime.logger.info({ event: 'registry.devices_revoked', revocationId, devices: deviceIds.length, correlationId: request.correlationId }, 'devices revoked');
  }
}
