import { Inject, Injectable } from '@nestjs/common';
import { TransferOwnership, type CustodyRole, type ResultOf } from '@tunnelkey/contracts';
import { custodySignatureValid } from '@tunnelkey/device-protocol';
import { derivedMetadata, handleCommand, load, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { batchDecider, type BatchState } from '../deciders/batch.decider.js';
import { deviceDecider } from '../deciders/device.decider.js';
import { identityOf, isEnrolled, type DeviceState } from '../deciders/device-state.js';
import { ownerDecider, type OwnerState } from '../deciders/owner.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { batchStream, deviceStream, ownerStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';
import {
  custodyStatementOf,
  decideTransfer,
  transferredBy,
  type TransferredDevice,
  type TransferRequest,
} from './transfer.decider.js';

/** Devices read (and their custody signatures checked) at once. */
const readConcurrency = 32;

/**
 * TransferOwnership: reads what the decision needs from the log (devices, their batches' owners,
 * both owners' custody keys, the new owner's batch), checks every custody signature, and lets the
 * pure transfer decider refuse the whole request or name the devices to move. Only then is anything
 * appended: one OwnershipTransferCompleted per device on its own subject, under a command id derived
 * from the command and the device, and decided again by the device decider (a device that moved
 * meanwhile refuses a stale record). A retry of the same transfer moves nothing twice.
 */
@Injectable()
export class TransferOwnershipHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly deviceStates: DeviceStateCache,
    private readonly devicesView: DeviceByIdView,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof TransferOwnership>> {
    const { commandId, correlationId, actor, ...request } = TransferOwnership.parse(payload);
    const metadata = metadataOf({ commandId, correlationId, actor }, this.clock());
    const [toBatch, fromOwner, toOwner] = await Promise.all([
      this.#batch(request.toBatchId),
      this.#owner(request.fromOwnerId),
      this.#owner(request.toOwnerId),
    ]);
    const devices = new Map<string, TransferredDevice>();
    const signatures = new Map<string, Record<CustodyRole, boolean>>();
    const batches = new Map<string, Promise<BatchState>>();
    const batchOf = (batchId: string) => {
      if (!batches.has(batchId)) batches.set(batchId, this.#batch(batchId));
      return batches.get(batchId)!;
    };
    const keysOf = { authorisation: fromOwner, acceptance: toOwner };
    for (let i = 0; i < request.devices.length; i += readConcurrency) {
      await Promise.all(
        request.devices.slice(i, i + readConcurrency).map(async ({ deviceId, custody }) => {
          const { state } = await load(this.store, deviceDecider, deviceStream(deviceId));
          const batch = isEnrolled(state) ? await batchOf(state.membership.batchId) : undefined;
          devices.set(deviceId, {
            state,
            ownerId: batch?.status === 'Created' ? batch.batch.ownerId : undefined,
          });
          if (!isEnrolled(state) || transferredBy(state, request.transferId)) return;
          signatures.set(deviceId, await this.#verify(request, deviceId, state, custody, keysOf));
        }),
      );
    }
    const decision = decideTransfer(request, { toBatch, devices, fromOwner, toOwner, signatures });
    for (const data of decision.transfer) {
      await handleCommand({
        store: this.store,
        decider: deviceDecider,
        stream: deviceStream(data.deviceId),
        cache: this.deviceStates.for(data.deviceId),
        command: commandOf('TransferDevice', data, derivedMetadata(metadata, 'transfer', data.deviceId)),
        logger: this.logger,
      });
    }
    // A query (or the CA's next CSR) right after the reply sees the devices in the new owner's batch.
    await this.devicesView.catchUp();
    this.logger.info(
      {
        event: 'registry.ownership_transferred',
        transferId: request.transferId,
        fromOwnerId: request.fromOwnerId,
        toOwnerId: request.toOwnerId,
        toBatchId: request.toBatchId,
        transferred: decision.transfer.length,
        alreadyTransferred: decision.already.length,
        commandId,
      },
      'ownership transferred',
    );
    return {
      transferId: request.transferId,
      transferred: decision.transfer.length,
      alreadyTransferred: decision.already.length,
    };
  }

  /** Which of the three signatures verify over the device's statement, each with the key its record names. */
  async #verify(
    request: TransferRequest,
    deviceId: string,
    state: DeviceState,
    custody: TransferRequest['devices'][number]['custody'],
    owners: { authorisation: OwnerState; acceptance: OwnerState },
  ): Promise<Record<CustodyRole, boolean>> {
    const statement = custodyStatementOf(request, deviceId, state);
    const ownerKey = (role: 'authorisation' | 'acceptance') =>
      owners[role].custodyKeys[custody[role].keyDigest]?.publicKey;
    const check = async (role: CustodyRole, publicKey: string | undefined) =>
      publicKey !== undefined && custodySignatureValid(role, statement, custody[role].signature, publicKey);
    const [authorisation, acceptance, acknowledgement] = await Promise.all([
      check('authorisation', ownerKey('authorisation')),
      check('acceptance', ownerKey('acceptance')),
      check('acknowledgement', identityOf(state)?.enrolmentPublicKey),
    ]);
    return { authorisation, acceptance, acknowledgement };
  }

  async #batch(batchId: string): Promise<BatchState> {
    return (await load(this.store, batchDecider, batchStream(batchId))).state;
  }

  async #owner(ownerId: string): Promise<OwnerState> {
    return (await load(this.store, ownerDecider, ownerStream(ownerId))).state;
  }
}
