/**
 * Cuts devices off every target they are onboarded to: first the target's CRL lists their target
 * certificates (a reconnect fails its handshake), then their live sessions are dropped; and records
 * DeviceDeprovisioned per device and target. Used by the revocation reaction (their certificates
 * are listed already), for an operator's cut, and for a transferred device (its old owner's targets).
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CommandMetadata, DataOf, DeviceDeprovisioned } from '@tunnelkey/contracts';
import { derivedMetadata } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import { InstallTrustHandler } from '../install-trust/install-trust.handler.js';
import { DeviceWriter } from '../shared/device-writer.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import type { OnboardingTarget } from '../target-port/onboarding-target.js';
import { CLOCK, ONBOARDING_LOGGER, type Clock } from '../tokens.js';
import { TargetsView } from '../views/targets.view.js';

export interface DeprovisionDevices {
  deviceIds: readonly string[];
  reason: DataOf<typeof DeviceDeprovisioned>['reason'];
  revocationId?: string;
  /** Each record derives its id from it: a retry records nothing twice. */
  commandId: string;
  /** Targets where the device's onboarding is of this batch are left alone (a transferred device's new owner's). */
  keepBatchId?: string;
}

export interface DeprovisionOutcome {
  /** Device-target pairs disabled and recorded. */
  deprovisioned: number;
  /** Pairs not disabled (target unreachable or refusing): retry later. */
  failed: number;
}

@Injectable()
export class DeprovisionDevicesHandler {
  /** Per `<targetId> <reason> <deviceId>`, a cut under way: whether it succeeded. */
  readonly #cutting = new Map<string, Promise<boolean>>();

  constructor(
    private readonly connected: ConnectedTargets,
    private readonly targets: TargetsView,
    private readonly trust: InstallTrustHandler,
    private readonly devices: DeviceWriter,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(input: DeprovisionDevices): Promise<DeprovisionOutcome> {
    await this.targets.catchUp();
    const metadata = { commandId: input.commandId, now: this.clock().toISOString() };
    const byTarget = new Map<string, string[]>();
    for (const deviceId of input.deviceIds) {
      for (const targetId of this.targets.activeTargets(deviceId)) {
        if (
          input.keepBatchId !== undefined &&
          this.targets.onboarding(deviceId, targetId)?.batchId === input.keepBatchId
        )
          continue;
        if (!byTarget.has(targetId)) byTarget.set(targetId, []);
        byTarget.get(targetId)!.push(deviceId);
      }
    }
    let deprovisioned = 0;
    let failed = 0;
    await Promise.all(
      [...byTarget].map(async ([targetId, deviceIds]) => {
        const target = this.connected.get(targetId);
        if (!target) {
          failed += deviceIds.length;
          return;
        }
        // A device another call is cutting off this target right now (a revocation's request and its
        // CRL meet): wait for that cut instead of taking its session over a second time.
        const key = (deviceId: string) => `${targetId} ${input.reason} ${deviceId}`;
        const joined = deviceIds.flatMap((deviceId) => this.#cutting.get(key(deviceId)) ?? []);
        const fresh = deviceIds.filter((deviceId) => !this.#cutting.has(key(deviceId)));
        const own = fresh.length ? this.#cutOff(target, targetId, fresh, input, metadata) : Promise.resolve(new Map());
        for (const deviceId of fresh) {
          const done = own.then(
            (cut) => cut.get(deviceId) === true,
            () => false,
          );
          this.#cutting.set(key(deviceId), done);
          void done.then(() => {
            if (this.#cutting.get(key(deviceId)) === done) this.#cutting.delete(key(deviceId));
          });
        }
        const outcomes = [...(await own).values(), ...(await Promise.all(joined))];
        for (const ok of outcomes)
          if (ok) deprovisioned++;
          else failed++;
      }),
    );
    return { deprovisioned, failed };
  }

  /** Lists the devices on the target's CRL, drops their sessions, records them: whether each one was cut off. */
  async #cutOff(
    target: OnboardingTarget,
    targetId: string,
    deviceIds: readonly string[],
    input: DeprovisionDevices,
    metadata: CommandMetadata,
  ): Promise<Map<string, boolean>> {
    const cut = new Map(deviceIds.map((deviceId) => [deviceId, false]));
    const started = performance.now();
    try {
      await this.trust.ensureTrust(targetId, metadata, { cut: deviceIds });
    } catch {
      // Not listed, not dropped: a dropped device would reconnect at once. Retried by the caller.
      return cut;
    }
    const listed = performance.now();
    const outcomes = await target.disableDevices(deviceIds);
    const dropped = performance.now();
    await Promise.all(
      outcomes.map(async (outcome) => {
        if (!outcome.ok) return;
        const { deviceId } = outcome;
        const data = {
          deviceId,
          targetId,
          reason: input.reason,
          ...(input.revocationId ? { revocationId: input.revocationId } : {}),
        };
        this.targets.noteDeprovisioned(deviceId, targetId);
        const step = derivedMetadata(metadata, 'deprovision', deviceId, targetId);
        await this.devices.record(deviceId, { type: 'RecordDeprovisioned', data, metadata: step });
        cut.set(deviceId, true);
      }),
    );
    const ms = (to: number, from: number) => Math.round(to - from);
    this.logger.info(
      {
        event: 'onboarding.devices_cut_off',
        targetId,
        devices: deviceIds.length,
        reason: input.reason,
        listMs: ms(listed, started),
        dropMs: ms(dropped, listed),
        recordMs: ms(performance.now(), dropped),
      },
      'devices cut off a target: listed on its CRL, sessions dropped, recorded',
    );
    return cut;
  }
}
