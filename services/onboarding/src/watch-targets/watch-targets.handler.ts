/**
 * What connected targets see, recorded: a device's connections and disconnections at once, its
 * telemetry as few events (the first message at once, then periodic counters, never one event per
 * message). An observation of a device not (yet) known as onboarded to that target waits up to
 * 30 s for this instance's view to learn it (a device connecting and publishing the moment it got
 * its parameters, onboarded by another instance), then is dropped. A target's report of who is
 * connected puts right what a lost observation left wrong: a device whose connection on record
 * differs from it in two reports in a row (a record of the first may still be on its way) is
 * recorded connected or disconnected, once.
 */
import { Inject, Injectable } from '@nestjs/common';
import { derivedCommandId } from '@tunnelkey/eventstore';
import { describeError } from '@tunnelkey/errors';
import type { Logger } from 'pino';
import type { DeviceCommand } from '../deciders/device.decider.js';
import { DeviceWriter } from '../shared/device-writer.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import type { TargetObservation } from '../target-port/onboarding-target.js';
import { ONBOARDING_LOGGER } from '../tokens.js';
import { TargetsView } from '../views/targets.view.js';
import { TelemetryTally, type TelemetryReport } from './telemetry-tally.js';

/** How long an observation of a device not known as onboarded there waits for the view (ms). */
export const heldObservationMs = 30_000;
/** Observations held at most, all devices together: beyond, new ones are dropped. */
const maxHeldObservations = 10_000;

interface Held {
  targetId: string;
  since: number;
  observations: Exclude<TargetObservation, { kind: 'present' }>[];
}

@Injectable()
export class WatchTargetsHandler {
  readonly #tally: TelemetryTally;
  /** `targetId deviceId` -> observations waiting for the device's onboarding to be known, in order. */
  readonly #held = new Map<string, Held>();
  #heldCount = 0;
  /** targetId -> the devices whose connection differed from the target's last report, and how. */
  readonly #drift = new Map<string, Map<string, boolean>>();
  /** Two observations of one device within a millisecond are still two records. */
  #observationSequence = 0;

  constructor(
    connected: ConnectedTargets,
    private readonly targets: TargetsView,
    private readonly devices: DeviceWriter,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {
    this.#tally = new TelemetryTally((deviceId, targetId) => targets.telemetry(deviceId, targetId));
    connected.observe((targetId, observation) => this.observe(targetId, observation));
  }

  observe(targetId: string, observation: TargetObservation): void {
    if (observation.kind === 'present') {
      this.#reconcile(targetId, observation);
      return;
    }
    const deviceId = observation.kind === 'telemetry' ? observation.deviceId : observation.clientId;
    const key = `${targetId} ${deviceId}`;
    const held = this.#held.get(key);
    // Held ones go first: a device's observations are recorded in the order they were made.
    if (held || !this.targets.onboarding(deviceId, targetId)) {
      if (this.#heldCount >= maxHeldObservations) return;
      if (held) held.observations.push(observation);
      else this.#held.set(key, { targetId, since: Date.now(), observations: [observation] });
      this.#heldCount++;
      return;
    }
    this.#record(targetId, observation);
  }

  /**
   * Records the held observations of devices now known as onboarded there, and drops those held
   * longer than `heldObservationMs` (devices never onboarded there). The flush job calls it every second.
   */
  recordHeld(now = Date.now()): void {
    for (const [key, held] of this.#held) {
      const deviceId = key.slice(held.targetId.length + 1);
      const known = this.targets.onboarding(deviceId, held.targetId) !== undefined;
      if (!known && now - held.since < heldObservationMs) continue;
      this.#held.delete(key);
      this.#heldCount -= held.observations.length;
      if (known) for (const observation of held.observations) this.#record(held.targetId, observation);
    }
  }

  #reconcile(targetId: string, report: Extract<TargetObservation, { kind: 'present' }>): void {
    const previous = this.#drift.get(targetId);
    const drift = this.targets.connectionDrift(targetId, report.clientIds);
    this.#drift.set(targetId, new Map(drift.map((d) => [d.deviceId, d.connected])));
    const observedAt = report.at.toISOString();
    let connected = 0;
    let disconnected = 0;
    for (const { deviceId, clientId, connected: there } of drift) {
      // Differing in one report only: a record of the observation may be on its way.
      if (previous?.get(deviceId) !== there) continue;
      if (there) connected++;
      else disconnected++;
      const metadata = {
        commandId: derivedCommandId('reconcile', targetId, deviceId, report.reportId),
        now: observedAt,
      };
      void this.devices
        .record(deviceId, {
          type: 'ReconcileConnection',
          data: { deviceId, targetId, clientId, connected: there, observedAt },
          metadata,
        })
        .catch((error: unknown) =>
          this.logger.warn(
            { event: 'onboarding.observation_not_recorded', targetId, deviceId, error: describeError(error) },
            'connection not reconciled',
          ),
        );
    }
    if (connected + disconnected > 0)
      this.logger.info(
        { event: 'onboarding.connections_reconciled', targetId, connected, disconnected },
        'connections on record put right from the target report of who is connected',
      );
  }

  #record(targetId: string, observation: Exclude<TargetObservation, { kind: 'present' }>): void {
    if (observation.kind === 'telemetry') {
      const first = this.#tally.record(
        targetId,
        observation.deviceId,
        observation.topic,
        observation.bytes,
        observation.at,
      );
      if (first) this.#recordTelemetry(first);
      return;
    }
    const deviceId = observation.clientId;
    const onboarding = this.targets.onboarding(deviceId, targetId);
    if (!onboarding) return;
    const at = observation.at.toISOString();
    const commandId = derivedCommandId(observation.kind, targetId, deviceId, at, String(++this.#observationSequence));
    const metadata = { commandId, now: at };
    const { clientId } = onboarding;
    const command: DeviceCommand =
      observation.kind === 'connected'
        ? {
            type: 'RecordConnected',
            data: {
              deviceId,
              targetId,
              clientId,
              connectedAt: at,
              tlsProtocol: observation.tlsProtocol,
              cipher: observation.cipher,
            },
            metadata,
          }
        : {
            type: 'RecordDisconnected',
            data: { deviceId, targetId, clientId, disconnectedAt: at, reason: observation.reason },
            metadata,
          };
    void this.devices
      .record(deviceId, command)
      .catch((error: unknown) =>
        this.logger.warn(
          { event: 'onboarding.observation_not_recorded', targetId, deviceId, error: describeError(error) },
          'observation not recorded',
        ),
      );
  }

  /** Records the periodic counters of every device with messages since the last flush (the job calls it). */
  flush(): void {
    for (const report of this.#tally.flush()) this.#recordTelemetry(report);
  }

  /** Flushes and waits until every record is written (tests, shutdown). */
  async flushTelemetry(): Promise<void> {
    this.flush();
    await this.devices.idle();
  }

  #recordTelemetry(report: TelemetryReport): void {
    const commandId = derivedCommandId('telemetry', report.targetId, report.deviceId, String(report.messagesTotal));
    const metadata = { commandId, now: report.lastMessageAt };
    void this.devices
      .record(report.deviceId, { type: 'RecordTelemetry', data: report, metadata }, 'telemetry')
      .catch((error: unknown) =>
        this.logger.warn(
          { event: 'onboarding.telemetry_not_recorded', deviceId: report.deviceId, error: describeError(error) },
          'telemetry not recorded',
        ),
      );
  }
}
