/**
 * What connected targets see, recorded: a device's connections and disconnections at once, its
 * telemetry as few events (the first message at once, then periodic counters, never one event per
 * message). Observations of devices not onboarded to that target are ignored.
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

@Injectable()
export class WatchTargetsHandler {
  readonly #tally: TelemetryTally;
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
    if (observation.kind === 'telemetry') {
      if (!this.targets.onboarding(observation.deviceId, targetId)) return;
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
