/**
 * The ownership transfer's decision, pure: given the request and what the registry knows (the
 * devices, their owners, both owners' custody keys, the new owner's batch, and which custody
 * signatures verified over each device's statement), the devices to move, or the first refusal.
 * A refusal refuses the whole command: nothing is recorded for any device. Checks run in a fixed
 * order, so the same bad request always gets the same answer.
 */
import type { CommandOf, CustodyRole, CustodyStatement, TransferOwnership } from '@tunnelkey/contracts';
import type { BatchState } from '../deciders/batch.decider.js';
import type { TransferDeviceCommand } from '../deciders/device.decider.js';
import { identityOf, isEnrolled, ownerEpochOf, type DeviceState } from '../deciders/device-state.js';
import type { OwnerState } from '../deciders/owner.decider.js';
import { notFound, refused } from '../shared/registry-errors.js';

export type TransferRequest = Pick<
  CommandOf<typeof TransferOwnership>,
  'transferId' | 'fromOwnerId' | 'toOwnerId' | 'toBatchId' | 'devices'
>;

export interface TransferredDevice {
  state: DeviceState;
  /** The owner of the batch the device is in (undefined: in no batch). */
  ownerId: string | undefined;
}

export interface TransferFacts {
  toBatch: BatchState;
  devices: ReadonlyMap<string, TransferredDevice>;
  fromOwner: OwnerState;
  toOwner: OwnerState;
  /** Per device, whether each custody signature verifies over its statement (custodyStatementOf). */
  signatures: ReadonlyMap<string, Readonly<Record<CustodyRole, boolean>>>;
}

export interface TransferDecision {
  /** One TransferDevice per device still to move, in the request's order. */
  transfer: TransferDeviceCommand['data'][];
  /** Devices this transfer moved already (a retry). */
  already: string[];
}

/** What all three parties sign for one device: the transfer, the device's identity and the epoch it moves to. */
export function custodyStatementOf(request: TransferRequest, deviceId: string, state: DeviceState): CustodyStatement {
  return {
    transferId: request.transferId,
    deviceId,
    enrolmentKeyDigest: identityOf(state)?.enrolmentKeyDigest ?? '',
    fromOwnerId: request.fromOwnerId,
    toOwnerId: request.toOwnerId,
    toBatchId: request.toBatchId,
    ownerEpoch: ownerEpochOf(state) + 1,
  };
}

/** True when the device was moved by this very transfer (its custody chain names it). */
export function transferredBy(state: DeviceState, transferId: string): boolean {
  return isEnrolled(state) && (state.custodyChain ?? []).some((entry) => entry.transferId === transferId);
}

export function decideTransfer(request: TransferRequest, facts: TransferFacts): TransferDecision {
  const { transferId, fromOwnerId, toOwnerId, toBatchId } = request;
  if (fromOwnerId === toOwnerId)
    throw refused('same-owner', `a transfer needs another owner than ${fromOwnerId}`, { transferId, toOwnerId });
  const seen = new Set<string>();
  for (const { deviceId } of request.devices) {
    if (seen.has(deviceId))
      throw refused('duplicate-device', `device ${deviceId} is named twice`, { transferId, deviceId });
    seen.add(deviceId);
  }
  if (facts.toBatch.status !== 'Created') throw notFound(`batch ${toBatchId}`, { transferId, batchId: toBatchId });
  if (facts.toBatch.batch.ownerId !== toOwnerId)
    throw refused('batch-of-other-owner', `batch ${toBatchId} is not owner ${toOwnerId}'s`, {
      transferId,
      batchId: toBatchId,
    });

  const decision: TransferDecision = { transfer: [], already: [] };
  for (const { deviceId, custody } of request.devices) {
    const device = facts.devices.get(deviceId);
    const state = device?.state;
    if (!state || state.status === 'Unknown') throw notFound(`device ${deviceId}`, { transferId, deviceId });
    if (state.status === 'Revoked')
      throw refused('device-revoked', `device ${deviceId} is revoked`, { transferId, deviceId });
    if (transferredBy(state, transferId)) {
      decision.already.push(deviceId);
      continue;
    }
    if (!isEnrolled(state) || device.ownerId !== fromOwnerId)
      throw refused('device-of-other-owner', `device ${deviceId} is not owner ${fromOwnerId}'s`, {
        transferId,
        deviceId,
      });
    const context = { transferId, deviceId };
    if (!facts.fromOwner.custodyKeys[custody.authorisation.keyDigest])
      throw refused(
        'authorisation-not-by-old-owner',
        `the authorisation is not signed by a custody key of owner ${fromOwnerId}`,
        context,
      );
    if (!facts.toOwner.custodyKeys[custody.acceptance.keyDigest])
      throw refused(
        'acceptance-not-by-new-owner',
        `the acceptance is not signed by a custody key of owner ${toOwnerId}`,
        context,
      );
    if (custody.acknowledgement.keyDigest !== state.identity.enrolmentKeyDigest)
      throw refused(
        'acknowledgement-not-by-device',
        `the acknowledgement is not signed by device ${deviceId}`,
        context,
      );
    const verified = facts.signatures.get(deviceId);
    for (const role of ['authorisation', 'acceptance', 'acknowledgement'] as const) {
      if (verified?.[role] !== true)
        throw refused('bad-custody-signature', `the ${role} of device ${deviceId} does not verify`, {
          ...context,
          role,
        });
    }
    decision.transfer.push({
      deviceId,
      transferId,
      ownerId: toOwnerId,
      fromOwnerId,
      ownerEpoch: ownerEpochOf(state) + 1,
      batchId: toBatchId,
      custody,
    });
  }
  return decision;
}
