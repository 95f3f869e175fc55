import { Inject, Injectable } from '@nestjs/common';
import type { CommandMetadata } from '@tunnelkey/contracts';
import { KeyedQueue } from '@tunnelkey/concurrency';
import { AggregateStateCache, derivedMetadata, handleCommand, load, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { batchDecider, type BatchState } from '../deciders/batch.decider.js';
import { deviceDecider } from '../deciders/device.decider.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';
import { commandOf } from './command-metadata.js';
import { batchStream, deviceStream } from './registry-streams.js';

/** Registry instances reserving in one batch at once conflict on its stream; each conflict is a reload and a retry. */
const reservationRetries = 50;

/**
 * Places in a batch. The batch's members are devices (each its own aggregate), so no device append
 * can check the batch's expected size: the places are reserved on the batch's own stream first
 * (ReservePlaces, appended with the stream's expected version), and only the devices that got one
 * join. Two registry instances admitting into one batch at once conflict on that append and one
 * decides again on the other's places: the log, not a process, enforces the size. A device that got
 * a place but could not join (in another batch, a key conflict) gives it back. Within one process
 * admissions into a batch still run one at a time (no conflicts between its own callers), and each
 * waits until the device view holds what it wrote (a summary read after the reply counts it).
 */
@Injectable()
export class BatchAdmission {
  readonly #queue = new KeyedQueue();
  readonly #batches = new AggregateStateCache<BatchState>({ maxStreams: 1_000 });

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly devices: DeviceByIdView,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  /** Whether the device is already a member of the batch (as the device view holds it). */
  isMember(batchId: string, deviceId: string): boolean {
    return this.devices.batchMembers(batchId).has(deviceId);
  }

  /**
   * Reserves places in `batchId` for `deviceIds` (devices already in it hold theirs), runs `join`
   * with who got one, gives back the places of the devices `join` reports `refused` that did not
   * end up in the batch, then waits until the view includes what `join` appended (`wrote`).
   * `metadata`: the admitting command's; the reservation's command id derives from it, so the same
   * command sent again reserves nothing twice. Returns `join`'s result and how long the wait took.
   */
  admit<R>(
    metadata: CommandMetadata,
    batchId: string,
    deviceIds: readonly string[],
    join: (admitted: boolean[]) => Promise<{ result: R; wrote: boolean; refused?: readonly string[] }>,
  ): Promise<{ result: R; catchUpMs: number }> {
    return this.#queue.run(batchId, async () => {
      const members = this.devices.batchMembers(batchId);
      // Needs no place: a member already, or a member of another batch (membership never moves
      // back, so the device's own decider refuses it: reported as such, not as the batch being full,
      // and nothing reserved for it, so a retried import writes nothing).
      const candidates = deviceIds.map((deviceId) => ({
        deviceId,
        alreadyMember: members.has(deviceId) || this.#inAnotherBatch(deviceId, batchId),
      }));
      // The reservation is decided on the batch's state, so its id derives from the command and
      // the state it starts from: the same command sent again on the same state is the same append
      // (deduplicated), and on a later state (places given back since) a new decision. An id from
      // the command alone deduplicated a retry's reservation against the first run's, whose places
      // for refused rows had been given back: the retry then found the batch full.
      // Read from the version this instance last folded: the batch stream grows by a reservation
      // per admission (enrolment reports admit one device each), so a whole read would cost O(batch).
      const stream = batchStream(batchId);
      const { version } = await this.store.read(stream, { after: this.#batches.get(stream)?.version ?? 0 });
      const reservation = await handleCommand({
        store: this.store,
        decider: batchDecider,
        stream: batchStream(batchId),
        cache: this.#batches,
        command: commandOf(
          'ReservePlaces',
          { batchId, knownMembers: members.size, candidates },
          derivedMetadata(metadata, 'places', batchId, String(version)),
        ),
        maxRetries: reservationRetries,
        logger: this.logger,
      });
      const state = reservation.state;
      const places = new Set(state.status === 'Created' ? state.places : []);
      const taken = new Set(
        reservation.events.flatMap((event) => (event.type === 'BatchPlacesReserved' ? event.data.deviceIds : [])),
      );
      const {
        result,
        wrote,
        refused = [],
      } = await join(candidates.map((c) => c.alreadyMember || places.has(c.deviceId)));
      await this.#giveBack(
        metadata,
        batchId,
        refused.filter((deviceId) => taken.has(deviceId)),
      );
      const waitStarted = performance.now();
      if (wrote) await this.devices.catchUp();
      return { result, catchUpMs: Math.round(performance.now() - waitStarted) };
    });
  }

  #inAnotherBatch(deviceId: string, batchId: string): boolean {
    const state = this.devices.deviceState(deviceId);
    return state !== undefined && 'membership' in state && !!state.membership && state.membership.batchId !== batchId;
  }

  /** Places taken for devices that could not join, given back unless the device is in the batch after all (another import won it). */
  async #giveBack(metadata: CommandMetadata, batchId: string, deviceIds: readonly string[]): Promise<void> {
    const outside: string[] = [];
    for (const deviceId of deviceIds) {
      const { state } = await load(this.store, deviceDecider, deviceStream(deviceId));
      if (!('membership' in state) || state.membership?.batchId !== batchId) outside.push(deviceId);
    }
    if (outside.length === 0) return;
    await handleCommand({
      store: this.store,
      decider: batchDecider,
      stream: batchStream(batchId),
      cache: this.#batches,
      command: commandOf(
        'ReleasePlaces',
        { batchId, deviceIds: outside },
        derivedMetadata(metadata, 'release', batchId),
      ),
      maxRetries: reservationRetries,
      logger: this.logger,
    });
  }
}
