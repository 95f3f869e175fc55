/** Writes to a target aggregate (`onboarding.target.<id>`), and decides without writing (a dry run). */
import { Inject, Injectable } from '@nestjs/common';
import {
  handleCommand,
  load,
  type EventStore,
  type HandleCommandResult,
  type SnapshotPolicy,
  type SnapshotStore,
  type StreamRef,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import {
  targetDecider,
  type OnboardingRun,
  type TargetCommand,
  type TargetEvent,
  type TargetState,
} from '../deciders/target.decider.js';
import { ONBOARDING_LOGGER, SNAPSHOT_STORE } from '../tokens.js';

const streamOf = (targetId: string): StreamRef => ({ context: 'onboarding', aggregate: 'target', id: targetId });

@Injectable()
export class TargetWriter {
  /** A target's stream grows by one event per CRL it enforces: snapshots keep reads short. */
  readonly #snapshots: SnapshotPolicy;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SNAPSHOT_STORE) snapshotStore: SnapshotStore,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {
    this.#snapshots = { store: snapshotStore, every: 20 };
  }

  record(targetId: string, command: TargetCommand): Promise<HandleCommandResult<TargetEvent, TargetState>> {
    const { store, logger } = this;
    return handleCommand({
      store,
      decider: targetDecider,
      stream: streamOf(targetId),
      command,
      logger,
      snapshots: this.#snapshots,
    });
  }

  /** Throws what `record` would refuse, writing nothing (before a side effect that must not happen in vain). */
  async check(targetId: string, command: TargetCommand): Promise<void> {
    const { state } = await load(this.store, targetDecider, streamOf(targetId), this.#snapshots);
    targetDecider.decide(command, state);
  }

  /** The onboarding runs the target's log lists as started and not finished. */
  async openRuns(targetId: string): Promise<OnboardingRun[]> {
    const { state } = await load(this.store, targetDecider, streamOf(targetId), this.#snapshots);
    return state.status === 'Registered' ? Object.values(state.runs ?? {}) : [];
  }
}
