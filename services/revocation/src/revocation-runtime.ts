/**
 * The composition root of the revocation service, free of Nest: the facts (rebuilt from four
 * contexts' logs, then followed by durable consumers), the saga pump, the commands and queries.
 *
 * Resuming after a crash: every fact and saga state is rebuilt from the logs at start, then every
 * open revocation is advanced. A step is recorded with a command id derived from the revocation
 * and the step, and the decider decides a recorded step into nothing, so a step is never lost
 * (its trigger is in a log) and never repeated (dedup + decider).
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { RevokeBatch, RevokeDevice, type BoundedContext, type ResultOf } from '@tunnelkey/contracts';
import { describeError, handleCommand, isCommandRejected, type EventStore, type Subscription } from '@tunnelkey/eventstore';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { pino, type Logger } from 'pino';
import type { RevocationConfig } from './config.js';
import { RevocationFacts } from './revocation-facts/revocation-facts.js';
import { nextStep, type NextStep } from './revocation-saga/next-step.js';
import { revocationDecider, revocationStream, type RevocationCommand } from './revocation-saga/revocation.decider.js';
import { deviceRevocationView, revocationView, type DeviceRevocationView, type RevocationView } from './revocation-status/revocation-status.view.js';
import { metadataOf, planBatchRevocation, planDeviceRevocation, type RevocationPlan } from './revoke-devices/revoke-devices.js';

export interface RevocationRuntimeOptions {
  nats: NatsConnection;
  config: RevocationConfig;
  store?: EventStore;
  clock?: () => Date;
  logger?: Logger;
  /** Called after each recorded step (metrics, tests). */
  onStep?: (revocationId: string, step: NextStep) => void;
}

interface Feed {
  context: BoundedContext;
  aggregate?: string;
}

/** What the saga follows: its own log, the CA's answers, the registry's devices, onboarding's targets. */
const feeds: readonly Feed[] = [
  { context: 'revocation' },
  { context: 'ca', aggregate: 'revocation' },
  { context: 'registry' },
  { context: 'onboarding' },
];

const stepCommandId = (revocationId: string, step: NextStep): string => {
  const what = step.type === 'CompleteStep' ? `${step.data.step}\u0000${step.data.targetId ?? ''}` : 'completed';
  return `${revocationId}-${createHash('sha256').update(what).digest('hex').slice(0, 24)}`;
};

export class RevocationRuntime {
  readonly facts = new RevocationFacts();
  readonly #subscriptions = new Map<BoundedContext, Subscription>();
  readonly #checkpoints = new Map<BoundedContext, number>();
  readonly #dirty = new Set<string>();
  readonly #clock: () => Date;
  #pumping: Promise<void> | undefined;
  #commands: Promise<unknown> = Promise.resolve();
  #stopped = false;
  #ready = false;
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(
    readonly config: RevocationConfig,
    readonly store: EventStore,
    private readonly logger: Logger,
    private readonly ownsStore: boolean,
    private readonly options: RevocationRuntimeOptions,
  ) {
    this.#clock = options.clock ?? (() => new Date());
  }

  static async start(options: RevocationRuntimeOptions): Promise<RevocationRuntime> {
    const { nats, config } = options;
    const logger = options.logger ?? pino({ name: 'revocation' });
    const ownsStore = !options.store;
    const store = options.store ?? new JetStreamEventStore(nats, { namespace: config.namespace, logger });
    // Same stream configuration every service applies; the saga follows all four.
    if (store instanceof JetStreamEventStore) await store.ensureStreams(['revocation', 'ca', 'registry', 'onboarding']);
    const runtime = new RevocationRuntime(config, store, logger, ownsStore, options);
    const started = Date.now();
    for (const feed of feeds) await runtime.#follow(feed);
    runtime.#ready = true;
    const open = runtime.facts.openRevocations();
    logger.info({ event: 'revocation.started', namespace: config.namespace, open: open.length, ms: Date.now() - started }, 'revocation service started');
    runtime.#touch(open); // resume every saga a crash interrupted
    return runtime;
  }

  get ready(): boolean {
    return this.#ready && !this.#stopped;
  }

  async #follow(feed: Feed): Promise<void> {
    const last = await this.store.replay(feed.context, (recorded) => void this.facts.fold(recorded.event), feed.aggregate ? { aggregate: feed.aggregate } : {});
    this.#checkpoints.set(feed.context, last);
    const durable = `revocation-facts-${feed.context}-${this.config.instanceId}`;
    const subscription = await this.store.subscribe({ durable, context: feed.context, ...(feed.aggregate ? { aggregate: feed.aggregate } : {}), fromSequence: last + 1 }, (recorded) => {
      // An existing durable resumes from its own position: skip what the replay already folded.
      if (recorded.sequence <= (this.#checkpoints.get(feed.context) ?? 0)) return;
      this.#checkpoints.set(feed.context, recorded.sequence);
      this.#touch(this.facts.fold(recorded.event));
    });
    this.#subscriptions.set(feed.context, subscription);
  }

  // ---- commands ----

  revokeDevice(payload: unknown): Promise<ResultOf<typeof RevokeDevice>> {
    const command = RevokeDevice.parse(payload);
    return this.#serialised(async () => {
      await this.#sync(['registry', 'revocation']);
      return this.#start(planDeviceRevocation(command, this.facts), command);
    });
  }

  revokeBatch(payload: unknown): Promise<ResultOf<typeof RevokeBatch>> {
    const command = RevokeBatch.parse(payload);
    return this.#serialised(async () => {
      await this.#sync(['registry', 'revocation']);
      return this.#start(planBatchRevocation(command, this.facts), command);
    });
  }

  /** One command at a time here, so two commands naming one device cannot both start a saga for it. */
  #serialised<R>(work: () => Promise<R>): Promise<R> {
    const result = this.#commands.catch(() => undefined).then(work);
    this.#commands = result;
    return result;
  }

  async #start(plan: RevocationPlan, command: { commandId: string; correlationId?: string; actor?: { kind: 'operator' | 'device' | 'service'; id: string } }): Promise<ResultOf<typeof RevokeDevice>> {
    if (plan.kind === 'nothing-to-do') return plan.result;
    const { request } = plan;
    const result = await handleCommand({
      store: this.store,
      decider: revocationDecider,
      stream: revocationStream(request.revocationId),
      command: { type: 'RequestRevocation', data: request, metadata: metadataOf(command, this.#clock()) },
      logger: this.logger,
    });
    for (const event of result.events) this.facts.fold(event);
    this.logger.info({ event: 'revocation.requested', revocationId: request.revocationId, scope: request.scope, devices: request.deviceIds.length, reason: request.reason, correlationId: command.correlationId ?? command.commandId }, 'revocation requested');
    this.#touch([request.revocationId]);
    return { revocationId: request.revocationId, devices: request.deviceIds.length, alreadyRevoked: plan.alreadyRevoked };
  }

  // ---- queries ----

  revocation(revocationId: string): RevocationView | undefined {
    const state = this.facts.revocations.get(revocationId);
    return state ? revocationView(state, this.facts) : undefined;
  }

  deviceRevocation(deviceId: string): DeviceRevocationView | undefined {
    return deviceRevocationView(deviceId, this.facts);
  }

  /** Waits until the facts include everything in the named logs now (tests, commands). */
  async #sync(contexts: readonly BoundedContext[]): Promise<void> {
    await Promise.all(contexts.map((context) => this.#subscriptions.get(context)?.caughtUp()));
  }

  syncNow(): Promise<void> {
    return this.#sync(feeds.map((f) => f.context));
  }

  // ---- the saga pump ----

  #touch(revocationIds: readonly string[]): void {
    if (this.#stopped) return;
    for (const id of revocationIds) if (id) this.#dirty.add(id);
    if (this.#dirty.size && this.#ready) this.#pumping ??= this.#pump().finally(() => (this.#pumping = undefined));
  }

  async #pump(): Promise<void> {
    while (this.#dirty.size && !this.#stopped) {
      const [revocationId] = this.#dirty;
      this.#dirty.delete(revocationId!);
      try {
        await this.#advance(revocationId!);
      } catch (error) {
        this.logger.warn({ event: 'revocation.step_retry', revocationId, error: describeError(error) }, 'revocation step not recorded; will retry');
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          this.#touch([revocationId!]);
        }, this.config.retryMs);
        this.#timers.add(timer);
      }
    }
  }

  /** Records every step the facts allow now, one after the other. */
  async #advance(revocationId: string): Promise<void> {
    for (;;) {
      const state = this.facts.revocation(revocationId);
      // Before deciding which targets matter, know every onboarding the log holds now.
      if (state.status === 'CrlPublished') await this.#sync(['onboarding']);
      const step = nextStep(state, this.facts);
      if (!step || this.#stopped) return;
      const command = { ...step, metadata: { commandId: stepCommandId(revocationId, step), correlationId: state.correlationId ?? revocationId, now: this.#clock().toISOString(), actor: { kind: 'service' as const, id: 'revocation' } } } as RevocationCommand;
      let events;
      try {
        ({ events } = await handleCommand({ store: this.store, decider: revocationDecider, stream: revocationStream(revocationId), command, logger: this.logger, maxRetries: 5 }));
      } catch (error) {
        if (!isCommandRejected(error)) throw error;
        // A refusal means the facts and the saga disagree; the next fact will try again.
        this.logger.warn({ event: 'revocation.step_refused', revocationId, reason: error.reason, error: describeError(error) }, 'revocation step refused');
        return;
      }
      for (const event of events) this.facts.fold(event);
      if (events.length === 0) return;
      this.options.onStep?.(revocationId, step);
      const after = this.facts.revocation(revocationId);
      if (after.status === 'Completed') {
        this.logger.info({ event: 'revocation.completed', revocationId, devices: after.deviceIds.length, durationMs: after.durationMs, correlationId: after.correlationId }, 'revocation completed');
      }
    }
  }

  /** Resolves once no saga step is in flight (tests). */
  async idle(): Promise<void> {
    while (this.#pumping) await this.#pumping;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#pumping;
    await Promise.all([...this.#subscriptions.values()].map((s) => s.stop()));
    this.#subscriptions.clear();
    if (this.ownsStore && this.store instanceof JetStreamEventStore) this.store.close();
  }
}
