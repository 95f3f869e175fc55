/**
 * Onboarding's part of integrity monitoring: a DeviceQuarantined (or its release) of the registry
 * is applied on every target the device is onboarded to, to its live session (the Mosquitto adapter
 * restricts it to its quarantine topic without dropping it), and recorded per target
 * (DeviceQuarantineEnforced). A target that could not apply it is recorded as `failed` and the
 * caller retries, so a quarantine is never silently lost.
 */
import { Inject, Injectable } from '@nestjs/common';
import { derivedMetadata } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import { TargetUnreachableError } from '../errors.js';
import { DeviceWriter } from '../shared/device-writer.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import { CLOCK, ONBOARDING_LOGGER, type Clock } from '../tokens.js';
import { TargetsView } from '../views/targets.view.js';

export interface QuarantineDecision {
  deviceId: string;
  /** true: quarantine; false: release. */
  quarantined: boolean;
  /** The registry event's id: the records derive their ids from it (a redelivery writes nothing twice). */
  eventId: string;
}

/** A device no target is known for waits for the targets view to catch up, at most once per this (ms). */
const catchUpEveryMs = 500;

@Injectable()
export class QuarantineDevicesHandler {
  #caughtUpAt = 0;

  constructor(
    private readonly connected: ConnectedTargets,
    private readonly targets: TargetsView,
    private readonly devices: DeviceWriter,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {}

  /** Resolves with the targets that applied it; throws TargetUnreachableError when one could not (retry). */
  async handle(decision: QuarantineDecision): Promise<string[]> {
    const { deviceId, quarantined } = decision;
    let targetIds = this.targets.activeTargets(deviceId);
    // Usually a device never onboarded anywhere (nothing to do): a burst of those (a fleet-wide
    // silence) must not cost a catch-up each, or a tampered device's quarantine waits behind them.
    if (targetIds.length === 0 && Date.now() - this.#caughtUpAt > catchUpEveryMs) {
      await this.targets.catchUp();
      this.#caughtUpAt = Date.now();
      targetIds = this.targets.activeTargets(deviceId);
    }
    const metadata = { commandId: `quarantine-${decision.eventId}`, now: this.clock().toISOString() };
    const failed: string[] = [];
    await Promise.all(
      targetIds.map(async (targetId) => {
        const target = this.connected.get(targetId);
        const started = performance.now();
        const [outcome] = target
          ? await (quarantined ? target.quarantineDevices([deviceId]) : target.releaseDevices([deviceId]))
          : [{ ok: false as const, deviceId, reason: 'target-unreachable' as const, detail: 'not connected' }];
        const applied = outcome?.ok === true;
        if (!applied) failed.push(targetId);
        const detail = outcome && !outcome.ok ? `${outcome.reason}: ${outcome.detail ?? ''}`.slice(0, 512) : undefined;
        const data = { deviceId, targetId, quarantined, ...(detail ? { failed: detail } : {}) };
        const step = derivedMetadata(metadata, 'enforced', targetId, applied ? 'ok' : `failed-${Date.now()}`);
        await this.devices.record(deviceId, { type: 'RecordQuarantineEnforced', data, metadata: step });
        this.logger.info(
          {
            event: quarantined ? 'onboarding.device_quarantined' : 'onboarding.device_released',
            deviceId,
            targetId,
            applied,
            ms: Math.round(performance.now() - started),
          },
          quarantined ? 'device restricted to its quarantine topic' : 'device quarantine released',
        );
      }),
    );
    if (failed.length > 0)
      throw new TargetUnreachableError(`quarantine of ${deviceId} not applied on ${failed.length} target(s) yet`, {
        deviceId,
        targets: failed.length,
      });
    return targetIds;
  }
}
