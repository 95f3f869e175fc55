/**
 * The composition root of onboarding, free of Nest: event store, facts projection, connected
 * targets and the use cases (register a target, onboard a batch or a device, deprovision devices,
 * refresh a target's trust), started in order and stopped in reverse.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import {
  ConnectionParametersMessage,
  type CommandMetadata,
  type DataOf,
  type DeviceOnboarded,
  type DeviceOnboardingFailed,
  type TelemetryReceived,
  type OnboardBatch,
  type OnboardDevice,
  type RegisterTarget,
  type CommandOf,
  type ResultOf,
} from '@tunnelkey/contracts';
import { DownlinkPublisher, type PlatformKey } from '@tunnelkey/device-protocol';
import { AggregateStateCache, handleCommand, type EventStore, type SnapshotPolicy, type SnapshotStore } from '@tunnelkey/eventstore';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { pino, type Logger } from 'pino';
import type { OnboardingConfig } from './config.js';
import { describeError } from '@tunnelkey/errors';
import { OnboardingCommandRejected, TargetUnreachableError, UnsafeTopicRightError } from './errors.js';
import { MosquittoTarget, type MosquittoHostBinding } from './mosquitto/mosquitto-target.js';
import { deviceDecider, type DeviceCommand, type DeviceState } from './onboard-devices/device.decider.js';
import { OnboardingFacts } from './onboarding-facts/onboarding-facts.js';
import { RevocationReactions } from './revoke-device/revocation-reactions.js';
import { targetDecider, type TargetCommand } from './register-target/target.decider.js';
import { HttpCrlSource, crlDigestOfPem, type CrlSource } from './shared/crl-source.js';
import { derivedCommandId, sha256Hex } from './shared/derived-ids.js';
import { KeyedQueue } from './shared/keyed-queue.js';
import { credentialsRefOf, InMemoryTargetCredentialStore, type TargetCredentialStore } from './shared/target-credentials.js';
import type { OnboardingTarget, RevocationList, TargetObservation } from './target-port/onboarding-target.js';
import { checkTopicRights, type TopicRightSpec } from './target-port/topic-plan.js';
import { TelemetryTally } from './watch-targets/telemetry-tally.js';

export interface OnboardingRuntimeOptions {
  nats: NatsConnection;
  config: OnboardingConfig;
  platformKey: PlatformKey;
  store?: EventStore;
  credentials?: TargetCredentialStore;
  crlSource?: CrlSource;
  /** The broker files and reload this service manages, per target (deployment config). */
  mosquittoBindings?: (targetId: string) => MosquittoHostBinding | undefined;
  /** CA of a target's server certificate, sent to devices with their connection parameters. */
  serverCaPem?: (targetId: string) => string | undefined;
  clock?: () => Date;
  logger?: Logger;
}

export interface OnboardingReport {
  onboarded: number;
  failed: number;
  /** Milliseconds from the command to the last device recorded. */
  durationMs: number;
}

type Registration = CommandOf<typeof RegisterTarget>;

export class OnboardingRuntime {
  readonly #targets = new Map<string, OnboardingTarget>();
  readonly #crlPems = new Map<string, RevocationList>();
  #revocations: RevocationReactions | undefined;
  readonly #queue: KeyedQueue;
  readonly #trustQueue = new KeyedQueue(16);
  /**
   * Telemetry counters flush for every device at once: a thousand appends. Their own narrow queue,
   * so onboarding, connection and deprovisioning records (a revocation waits for those) never
   * queue behind them.
   */
  readonly #telemetryQueue = new KeyedQueue(8);
  readonly #tally: TelemetryTally;
  readonly #clock: () => Date;
  #observationSequence = 0;
  readonly #targetSnapshots: SnapshotPolicy;
  readonly #deviceSnapshots: SnapshotPolicy;
  /** This instance writes every record of its devices (one queue per device): it decides on the state it last wrote. */
  readonly #deviceStates: AggregateStateCache<DeviceState> | undefined;
  #telemetryTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly config: OnboardingConfig,
    readonly store: EventStore,
    readonly facts: OnboardingFacts,
    private readonly options: OnboardingRuntimeOptions,
    private readonly credentials: TargetCredentialStore,
    private readonly crlSource: CrlSource,
    private readonly downlinks: DownlinkPublisher,
    private readonly logger: Logger,
    private readonly ownsStore: boolean,
    snapshotStore: SnapshotStore,
  ) {
    // A target's stream grows by one event per CRL it enforces, a device's by one per telemetry period, for as long as they live: snapshots keep reads short.
    this.#targetSnapshots = { store: snapshotStore, every: 20 };
    this.#deviceSnapshots = { store: snapshotStore, every: 50 };
    this.#deviceStates = config.deviceStateCacheSize > 0 ? new AggregateStateCache({ maxStreams: config.deviceStateCacheSize }) : undefined;
    this.#clock = options.clock ?? (() => new Date());
    this.#queue = new KeyedQueue(config.maxConcurrentAppends);
    this.#tally = new TelemetryTally((deviceId, targetId) => facts.state.devices.get(deviceId)?.telemetry.get(targetId));
  }

  static async start(options: OnboardingRuntimeOptions): Promise<OnboardingRuntime> {
    const { nats, config } = options;
    const logger = options.logger ?? pino({ name: 'onboarding' });
    const ownsStore = !options.store;
    const store = options.store ?? new JetStreamEventStore(nats, { namespace: config.namespace, logger });
    if (store instanceof JetStreamEventStore) await store.ensureStreams(['onboarding', 'registry', 'ca']);
    const facts = await OnboardingFacts.start(store);
    const runtime = new OnboardingRuntime(
      config,
      store,
      facts,
      options,
      options.credentials ?? new InMemoryTargetCredentialStore(),
      options.crlSource ?? new HttpCrlSource(),
      new DownlinkPublisher({ platformKey: options.platformKey, publish: (subject, data) => nats.publish(subject, data), namespace: config.namespace, ...(options.clock ? { clock: options.clock } : {}) }),
      logger,
      ownsStore,
      await store.snapshotStore(),
    );
    for (const { registration } of facts.state.targets.values()) {
      const credentials = await runtime.credentials.get(registration.credentialsRef);
      if (!credentials) {
        logger.warn({ event: 'onboarding.target_without_credentials', targetId: registration.targetId }, 'target registered but its credentials are not in this instance; register it again');
        continue;
      }
      await runtime.#connect(registration, credentials).catch((error: unknown) => logger.warn({ event: 'onboarding.target_unreachable', targetId: registration.targetId, error: describeError(error) }, 'target not reachable at start'));
    }
    runtime.#revocations = new RevocationReactions(store, runtime, logger);
    await runtime.#revocations.start();
    runtime.#telemetryTimer = setInterval(() => runtime.#flushTelemetry(), config.telemetryIntervalMs);
    logger.info({ event: 'onboarding.started', namespace: config.namespace, targets: runtime.#targets.size }, 'onboarding started');
    return runtime;
  }

  get ready(): boolean {
    return this.facts.ready;
  }

  /** Connected targets by id (the revocation saga and tests use the port directly). */
  target(targetId: string): OnboardingTarget | undefined {
    return this.#targets.get(targetId);
  }

  // ---- RegisterTarget ----

  async registerTarget(command: Registration): Promise<ResultOf<typeof RegisterTarget>> {
    if (command.kind !== 'mosquitto') throw new OnboardingCommandRejected('unsupported-target-kind', `target kind ${command.kind} has no adapter yet`, { kind: command.kind });
    const credentialsRef = credentialsRefOf(command.targetId);
    const registration = { targetId: command.targetId, kind: command.kind, name: command.name, host: command.host, tlsPort: command.tlsPort, credentialsRef };
    const credentials = { username: command.admin.username, password: command.admin.password, ...(command.admin.port ? { port: command.admin.port } : {}) };
    // Decide first (pure, no side effects) so a conflicting registration never touches the secret store.
    const metadata = this.#metadata(command);
    await this.#decideTarget(command.targetId, { type: 'RegisterTarget', data: registration, metadata }, true);
    const previous = this.#targets.get(command.targetId);
    this.#targets.delete(command.targetId);
    await previous?.close();
    try {
      await this.#connect(registration, credentials);
    } catch (error) {
      throw new OnboardingCommandRejected('target-unreachable', `target ${command.targetId} admin API cannot be reached with these credentials`, { targetId: command.targetId, cause: describeError(error).slice(0, 200) });
    }
    await this.credentials.put(credentialsRef, credentials);
    await this.#decideTarget(command.targetId, { type: 'RegisterTarget', data: registration, metadata });
    this.facts.state.apply({ type: 'TargetRegistered', version: 1, id: '', aggregateId: command.targetId, occurredAt: metadata.now, causationId: metadata.commandId, correlationId: metadata.commandId, data: registration });
    return { targetId: command.targetId };
  }

  async #connect(registration: { targetId: string; host: string; tlsPort: number }, credentials: { username: string; password: string; port?: number }): Promise<void> {
    const binding = this.options.mosquittoBindings?.(registration.targetId);
    const target = await MosquittoTarget.connect({
      targetId: registration.targetId,
      host: registration.host,
      tlsPort: registration.tlsPort,
      admin: { port: credentials.port ?? registration.tlsPort, username: credentials.username, password: credentials.password },
      ...(binding ? { binding } : {}),
      ...(this.options.clock ? { clock: this.options.clock } : {}),
    });
    await target.watch((observation) => this.#observe(registration.targetId, observation));
    for (const policy of this.facts.state.policies.values()) {
      if (policy.targetIds.includes(registration.targetId)) await target.observeTopics(policy.topicRights).catch(() => undefined);
    }
    this.#targets.set(registration.targetId, target);
  }

  // ---- OnboardBatch / OnboardDevice ----

  async onboardBatch(command: CommandOf<typeof OnboardBatch>): Promise<ResultOf<typeof OnboardBatch> & { done: Promise<OnboardingReport> }> {
    await this.facts.syncNow();
    const deviceIds = [...(this.facts.state.devicesByBatch.get(command.batchId) ?? [])];
    if (!this.facts.state.batches.has(command.batchId)) throw new OnboardingCommandRejected('unknown-batch', `batch ${command.batchId} is not known`, { batchId: command.batchId });
    return this.#start(command.batchId, deviceIds, command.targetIds, this.#metadata(command));
  }

  async onboardDevice(command: CommandOf<typeof OnboardDevice>): Promise<ResultOf<typeof OnboardDevice> & { done: Promise<OnboardingReport> }> {
    await this.facts.syncNow();
    const batchId = this.facts.state.devices.get(command.deviceId)?.batchId;
    if (!batchId) throw new OnboardingCommandRejected('unknown-device', `device ${command.deviceId} is in no known batch`, { deviceId: command.deviceId });
    return this.#start(batchId, [command.deviceId], command.targetIds, this.#metadata(command));
  }

  #start(batchId: string, deviceIds: string[], requestedTargets: string[] | undefined, metadata: CommandMetadata) {
    const state = this.facts.state;
    const batch = state.batches.get(batchId)!;
    const policy = state.policies.get(batch.policyId);
    if (!policy) throw new OnboardingCommandRejected('unknown-policy', `policy ${batch.policyId} of batch ${batchId} is not known`, { batchId });
    const targetIds = requestedTargets ?? policy.targetIds;
    if (targetIds.length === 0) throw new OnboardingCommandRejected('policy-has-no-target', `policy ${policy.policyId} names no target`, { policyId: policy.policyId });
    for (const targetId of targetIds) {
      if (!state.targets.has(targetId)) throw new OnboardingCommandRejected('unknown-target', `target ${targetId} is not registered`, { targetId });
      if (!this.#targets.has(targetId)) throw new OnboardingCommandRejected('target-unreachable', `target ${targetId} is not connected (credentials missing or admin API down)`, { targetId });
    }
    try {
      checkTopicRights(policy.topicRights);
    } catch (error) {
      if (error instanceof UnsafeTopicRightError) throw new OnboardingCommandRejected('unsafe-topic-rights', error.message, { policyId: policy.policyId });
      throw error;
    }
    const done = this.#onboard(batch, policy, deviceIds, targetIds, metadata);
    done.catch((error: unknown) => this.logger.error({ event: 'onboarding.batch_failed', batchId, error: describeError(error) }, 'onboarding run failed'));
    return { devices: deviceIds.length, done };
  }

  async #onboard(
    batch: { batchId: string; policyId: string },
    policy: { policyId: string; topicRights: TopicRightSpec[] },
    deviceIds: string[],
    targetIds: string[],
    metadata: CommandMetadata,
  ): Promise<OnboardingReport> {
    const started = Date.now();
    const state = this.facts.state;
    let onboarded = 0;
    let failed = 0;
    const eligible: string[] = [];
    const writes: Promise<void>[] = [];
    const fail = (deviceId: string, targetId: string, reason: DataOf<typeof DeviceOnboardingFailed>['reason'], detail?: string) => {
      failed++;
      const data = { deviceId, targetId, reason, ...(detail ? { detail: detail.slice(0, 500) } : {}) };
      writes.push(this.#decideDevice(deviceId, { type: 'RecordOnboardingFailed', data, metadata: this.#derived(metadata, 'onboard-failed', deviceId, targetId) }));
    };
    for (const deviceId of deviceIds) {
      const device = state.devices.get(deviceId);
      if (device?.revoked) targetIds.forEach((t) => fail(deviceId, t, 'device-revoked'));
      else if (!device?.certificate) targetIds.forEach((t) => fail(deviceId, t, 'device-not-certified'));
      else eligible.push(deviceId);
    }
    const authorities = [...new Set(eligible.map((id) => state.devices.get(id)!.certificate!.authorityId))];

    await Promise.all(
      targetIds.map(async (targetId) => {
        const target = this.#targets.get(targetId)!;
        try {
          await this.#ensureTrust(targetId, authorities, metadata);
          await target.observeTopics(policy.topicRights);
        } catch (error) {
          const reason = error instanceof TargetUnreachableError ? 'target-unreachable' : 'target-refused';
          eligible.forEach((deviceId) => fail(deviceId, targetId, reason, describeError(error)));
          return;
        }
        for (let i = 0; i < eligible.length; i += this.config.onboardChunkSize) {
          const chunk = eligible.slice(i, i + this.config.onboardChunkSize);
          const outcomes = await target.registerDevices(chunk.map((deviceId) => ({ deviceId, topicRights: policy.topicRights })));
          for (const outcome of outcomes) {
            if (!outcome.ok) {
              fail(outcome.deviceId, targetId, outcome.reason, outcome.detail);
              continue;
            }
            onboarded++;
            const data: DataOf<typeof DeviceOnboarded> = { deviceId: outcome.deviceId, targetId, batchId: batch.batchId, policyId: policy.policyId, clientId: outcome.clientId, roleName: outcome.roleName, topicPrefix: outcome.topicPrefix };
            // Known at once, so the device's first connection (which may come within milliseconds) is not missed.
            state.device(outcome.deviceId).onboardedTo.set(targetId, data);
            state.device(outcome.deviceId).deprovisionedFrom.delete(targetId);
            writes.push(
              this.#decideDevice(outcome.deviceId, { type: 'RecordOnboarded', data, metadata: this.#derived(metadata, 'onboard', outcome.deviceId, targetId) }).then(() =>
                this.downlinks.send(ConnectionParametersMessage, outcome.deviceId, {
                  targetId,
                  ...target.connectionParameters(outcome),
                  ...(this.options.serverCaPem?.(targetId) ? { serverCaPem: this.options.serverCaPem(targetId)! } : {}),
                }),
              ),
            );
          }
        }
      }),
    );
    const results = await Promise.allSettled(writes);
    const writeFailures = results.filter((r) => r.status === 'rejected').length;
    if (writeFailures) this.logger.warn({ event: 'onboarding.record_failed', batchId: batch.batchId, count: writeFailures }, 'some outcomes were not recorded');
    const report = { onboarded, failed, durationMs: Date.now() - started };
    this.logger.info({ event: 'onboarding.batch_done', batchId: batch.batchId, targets: targetIds.length, ...report, correlationId: metadata.correlationId }, 'batch onboarded');
    return report;
  }

  // ---- trust ----

  /** Installs the issuing CA chains and current CRLs a target needs; reloads it only when something changed. */
  #ensureTrust(targetId: string, authorities: readonly string[], metadata: CommandMetadata, force = false): Promise<void> {
    return this.#trustQueue.push(`trust-${targetId}`, async () => {
      const state = this.facts.state;
      const installed = state.targets.get(targetId)?.anchors ?? new Map<string, string>();
      const wanted = [...new Set([...installed.keys(), ...authorities])].filter((a) => state.chains.has(a));
      const crls: RevocationList[] = [];
      for (const authorityId of wanted) {
        const crl = await this.#currentCrl(authorityId);
        if (crl) crls.push(crl);
      }
      const enforcedCrls = state.targets.get(targetId)?.crls ?? new Map<string, number>();
      const changed = force || wanted.some((a) => !installed.has(a)) || crls.some((c) => (enforcedCrls.get(c.authorityId) ?? 0) < c.crlNumber);
      if (!changed) return;
      const target = this.#targets.get(targetId);
      if (!target) throw new TargetUnreachableError('target is not connected', { targetId });
      await target.applyTrust({ anchors: wanted.map((authorityId) => ({ authorityId, chainPem: state.chains.get(authorityId)!.chainPem })), crls });
      for (const authorityId of wanted) {
        const fingerprintSha256 = fingerprintOf(state.chains.get(authorityId)!.chainPem[0]!);
        if (installed.get(authorityId) === fingerprintSha256) continue; // recorded before: the decider would decide nothing
        await this.#decideTarget(targetId, { type: 'RecordTrustAnchorInstalled', data: { targetId, authorityId, fingerprintSha256 }, metadata: this.#derived(metadata, 'anchor', targetId, authorityId, fingerprintSha256) });
        installed.set(authorityId, fingerprintSha256);
      }
      for (const crl of crls) {
        const data = { targetId, authorityId: crl.authorityId, crlNumber: crl.crlNumber, crlDigest: crlDigestOfPem(crl.crlPem) };
        await this.#decideTarget(targetId, { type: 'RecordCrlUpdated', data, metadata: this.#derived(metadata, 'crl', targetId, crl.authorityId, String(crl.crlNumber)) });
        enforcedCrls.set(crl.authorityId, crl.crlNumber);
      }
    });
  }

  async #currentCrl(authorityId: string): Promise<RevocationList | undefined> {
    const published = this.facts.state.crls.get(authorityId);
    const cached = this.#crlPems.get(authorityId);
    if (!published || (cached && cached.crlNumber >= published.crlNumber)) return cached;
    const { crlPem } = await this.crlSource.fetch({ authorityId, url: published.url, crlDigest: published.crlDigest });
    const crl = { authorityId, crlNumber: published.crlNumber, crlPem };
    this.#crlPems.set(authorityId, crl);
    return crl;
  }

  /**
   * For revocation: makes every target that trusts `authorityId` enforce its newest CRL (from the
   * CA's CrlPublished, or handed in directly) and reloads it. Live sessions stay: cut those off
   * with deprovisionDevices.
   */
  async refreshTrust(input: { authorityId: string; crl?: RevocationList; commandId: string }): Promise<string[]> {
    await this.facts.syncNow();
    if (input.crl) this.#crlPems.set(input.authorityId, input.crl);
    const metadata = { commandId: input.commandId, now: this.#clock().toISOString() };
    const targets = [...this.facts.state.targets.entries()].filter(([, t]) => t.anchors.has(input.authorityId)).map(([id]) => id);
    await Promise.all(targets.map((targetId) => this.#ensureTrust(targetId, [input.authorityId], metadata)));
    return targets;
  }

  // ---- deprovisioning (revocation, transfer, operator) ----

  /** Disables the devices on every target they are onboarded to (dropping live sessions) and records it. */
  async deprovisionDevices(input: { deviceIds: readonly string[]; reason: 'revoked' | 'ownership-transferred' | 'operator'; revocationId?: string; commandId: string }): Promise<{ deprovisioned: number; failed: number }> {
    await this.facts.syncNow();
    const metadata = { commandId: input.commandId, now: this.#clock().toISOString() };
    const byTarget = new Map<string, string[]>();
    for (const deviceId of input.deviceIds) {
      const device = this.facts.state.devices.get(deviceId);
      for (const targetId of device?.onboardedTo.keys() ?? []) {
        if (device?.deprovisionedFrom.has(targetId)) continue;
        if (!byTarget.has(targetId)) byTarget.set(targetId, []);
        byTarget.get(targetId)!.push(deviceId);
      }
    }
    let deprovisioned = 0;
    let failed = 0;
    await Promise.all(
      [...byTarget].map(async ([targetId, deviceIds]) => {
        const target = this.#targets.get(targetId);
        if (!target) {
          failed += deviceIds.length;
          return;
        }
        const outcomes = await target.disableDevices(deviceIds);
        await Promise.all(
          outcomes.map(async (outcome) => {
            if (!outcome.ok) return void failed++;
            deprovisioned++;
            const data = { deviceId: outcome.deviceId, targetId, reason: input.reason, ...(input.revocationId ? { revocationId: input.revocationId } : {}) };
            this.facts.state.device(outcome.deviceId).deprovisionedFrom.add(targetId);
            await this.#decideDevice(outcome.deviceId, { type: 'RecordDeprovisioned', data, metadata: this.#derived(metadata, 'deprovision', outcome.deviceId, targetId) });
          }),
        );
      }),
    );
    return { deprovisioned, failed };
  }

  // ---- watching ----

  #observe(targetId: string, observation: TargetObservation): void {
    const state = this.facts.state;
    if (observation.kind === 'telemetry') {
      if (!state.devices.get(observation.deviceId)?.onboardedTo.has(targetId)) return;
      const first = this.#tally.record(targetId, observation.deviceId, observation.topic, observation.bytes, observation.at);
      if (first) this.#recordTelemetry(first);
      return;
    }
    const deviceId = observation.clientId;
    const onboarding = state.devices.get(deviceId)?.onboardedTo.get(targetId);
    if (!onboarding) return;
    const at = observation.at.toISOString();
    const metadata = { commandId: derivedCommandId(observation.kind, targetId, deviceId, at, String(++this.#observationSequence)), now: at };
    const command: DeviceCommand =
      observation.kind === 'connected'
        ? { type: 'RecordConnected', data: { deviceId, targetId, clientId: onboarding.clientId, connectedAt: at, tlsProtocol: observation.tlsProtocol, cipher: observation.cipher }, metadata }
        : { type: 'RecordDisconnected', data: { deviceId, targetId, clientId: onboarding.clientId, disconnectedAt: at, reason: observation.reason }, metadata };
    void this.#decideDevice(deviceId, command).catch((error: unknown) => this.logger.warn({ event: 'onboarding.observation_not_recorded', targetId, deviceId, error: describeError(error) }, 'observation not recorded'));
  }

  #recordTelemetry(report: DataOf<typeof TelemetryReceived>): void {
    const metadata = { commandId: derivedCommandId('telemetry', report.targetId, report.deviceId, String(report.messagesTotal)), now: report.lastMessageAt };
    void this.#decideDevice(report.deviceId, { type: 'RecordTelemetry', data: report, metadata }, this.#telemetryQueue).catch((error: unknown) =>
      this.logger.warn({ event: 'onboarding.telemetry_not_recorded', deviceId: report.deviceId, error: describeError(error) }, 'telemetry not recorded'),
    );
  }

  #flushTelemetry(): void {
    for (const report of this.#tally.flush()) this.#recordTelemetry(report);
  }

  /** Periodic counters now (tests, shutdown). */
  async flushTelemetry(): Promise<void> {
    this.#flushTelemetry();
    await Promise.all([this.#queue.idle(), this.#telemetryQueue.idle()]);
  }

  // ---- plumbing ----

  #decideDevice(deviceId: string, command: DeviceCommand, queue: KeyedQueue = this.#queue): Promise<void> {
    return queue.push(deviceId, async () => {
      await handleCommand({
        store: this.store,
        decider: deviceDecider,
        stream: { context: 'onboarding', aggregate: 'device', id: deviceId },
        command,
        logger: this.logger,
        maxRetries: 5,
        snapshots: this.#deviceSnapshots,
        ...(this.#deviceStates ? { cache: this.#deviceStates } : {}),
      });
    });
  }

  async #decideTarget(targetId: string, command: TargetCommand, dryRun = false): Promise<void> {
    if (dryRun) {
      const { events } = await this.store.read({ context: 'onboarding', aggregate: 'target', id: targetId });
      const state = events.map((r) => r.event).reduce((s, e) => targetDecider.evolve(s, e as never), targetDecider.initialState());
      targetDecider.decide(command, state);
      return;
    }
    await handleCommand({ store: this.store, decider: targetDecider, stream: { context: 'onboarding', aggregate: 'target', id: targetId }, command, logger: this.logger, snapshots: this.#targetSnapshots });
  }

  #metadata(command: { commandId: string; correlationId?: string; actor?: CommandMetadata['actor'] }): CommandMetadata {
    return { commandId: command.commandId, correlationId: command.correlationId ?? command.commandId, now: this.#clock().toISOString(), ...(command.actor ? { actor: command.actor } : {}) };
  }

  #derived(metadata: CommandMetadata, kind: string, ...parts: string[]): CommandMetadata {
    return { ...metadata, commandId: derivedCommandId(kind, metadata.commandId, ...parts), correlationId: metadata.correlationId ?? metadata.commandId };
  }

  async stop(): Promise<void> {
    await this.#revocations?.stop();
    clearInterval(this.#telemetryTimer);
    this.#flushTelemetry();
    await Promise.all([this.#queue.idle(), this.#telemetryQueue.idle()]);
    await Promise.all([...this.#targets.values()].map((t) => t.close().catch(() => undefined)));
    this.#targets.clear();
    await this.facts.stop();
    if (this.ownsStore && this.store instanceof JetStreamEventStore) this.store.close();
  }
}

function fingerprintOf(pem: string): string {
  return sha256Hex(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
}
