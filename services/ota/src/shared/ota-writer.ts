/**
 * Writes to OTA's aggregates (firmware lines, rollouts, devices) through their deciders, each an
 * idempotent append (the command id derives the message id). Device streams are cached: a rollout
 * writes two or three events per device, and a cached state needs no read.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  AggregateStateCache,
  handleCommand,
  load,
  type EventStore,
  type HandleCommandResult,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import {
  deviceUpdateDecider,
  deviceUpdateStream,
  type DeviceUpdateCommand,
  type DeviceUpdateEvent,
  type DeviceUpdateState,
} from '../deciders/device-update.decider.js';
import {
  firmwareLineDecider,
  firmwareLineStream,
  type FirmwareLineCommand,
  type FirmwareLineEvent,
  type FirmwareLineState,
} from '../deciders/firmware-line.decider.js';
import {
  rolloutDecider,
  rolloutStream,
  type RolloutCommand,
  type RolloutEvent,
  type RolloutState,
} from '../deciders/rollout.decider.js';
import { OTA_LOGGER } from '../tokens.js';

export const otaActor = { kind: 'service' as const, id: 'ota' };

@Injectable()
export class OtaWriter {
  readonly #devices = new AggregateStateCache<DeviceUpdateState>({ maxStreams: 20_000 });

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(OTA_LOGGER) private readonly logger: Logger,
  ) {}

  firmwareLine(product: string): Promise<FirmwareLineState> {
    return load(this.store, firmwareLineDecider, firmwareLineStream(product)).then((loaded) => loaded.state);
  }

  recordFirmwareLine(
    product: string,
    command: FirmwareLineCommand,
  ): Promise<HandleCommandResult<FirmwareLineEvent, FirmwareLineState>> {
    const { store, logger } = this;
    return handleCommand({ store, decider: firmwareLineDecider, stream: firmwareLineStream(product), command, logger });
  }

  rollout(rolloutId: string): Promise<RolloutState> {
    return load(this.store, rolloutDecider, rolloutStream(rolloutId)).then((loaded) => loaded.state);
  }

  recordRollout(rolloutId: string, command: RolloutCommand): Promise<HandleCommandResult<RolloutEvent, RolloutState>> {
    const { store, logger } = this;
    return handleCommand({ store, decider: rolloutDecider, stream: rolloutStream(rolloutId), command, logger });
  }

  recordDevice(
    deviceId: string,
    command: DeviceUpdateCommand,
  ): Promise<HandleCommandResult<DeviceUpdateEvent, DeviceUpdateState>> {
    const { store, logger } = this;
    const stream = deviceUpdateStream(deviceId);
    return handleCommand({ store, decider: deviceUpdateDecider, stream, command, logger, cache: this.#devices });
  }
}
