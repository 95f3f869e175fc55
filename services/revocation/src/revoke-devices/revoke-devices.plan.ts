/**
 * RevokeDevice / RevokeBatch, pure: checks the request against the revocation-status view, then
 * plans one saga (RevocationRequested) for every device not revoked yet. Nothing is planned when
 * the input is bad (unknown device or batch; a malformed reason the contract refuses before we get
 * here) or when every device is revoked already (idempotent: the reply names the earlier revocation).
 */
import { createHash } from 'node:crypto';
import {
  maxDevicesPerRevocation,
  type CommandOf,
  type DataOf,
  type ResultOf,
  type RevocationRequested,
  type RevokeBatch,
  type RevokeDevice,
} from '@tunnelkey/contracts';
import { notFound, refused } from '../errors.js';
import type { RevocationStatusState } from '../views/revocation-status.view.js';

export type RevocationStarted = ResultOf<typeof RevokeDevice>;

/**
 * Same command id, same revocation: a retried command finds its saga instead of starting another.
 * An aggregate id (no ':'), hence not derivedCommandId.
 */
export const revocationIdFor = (commandId: string): string =>
  `rv-${createHash('sha256').update(commandId).digest('hex').slice(0, 32)}`;

export type RevocationPlan =
  | { kind: 'start'; request: DataOf<typeof RevocationRequested>; alreadyRevoked: number }
  | { kind: 'nothing-to-do'; result: RevocationStarted };

export function planDeviceRevocation(
  command: CommandOf<typeof RevokeDevice>,
  view: RevocationStatusState,
): RevocationPlan {
  const { deviceId, reason } = command;
  const revocationId = revocationIdFor(command.commandId);
  if (!view.devices.has(deviceId)) throw notFound(`device ${deviceId}`, { deviceId });
  const covering = view.coveringRevocation(deviceId);
  // A retry of this very command is answered as the first time.
  if (covering === revocationId)
    return { kind: 'nothing-to-do', result: { revocationId, devices: 1, alreadyRevoked: 0 } };
  if (covering) return { kind: 'nothing-to-do', result: { revocationId: covering, devices: 0, alreadyRevoked: 1 } };
  return {
    kind: 'start',
    request: { revocationId, scope: 'device', deviceIds: [deviceId], reason },
    alreadyRevoked: 0,
  };
}

export function planBatchRevocation(
  command: CommandOf<typeof RevokeBatch>,
  view: RevocationStatusState,
): RevocationPlan {
  const { batchId, reason } = command;
  const revocationId = revocationIdFor(command.commandId);
  const members = view.batches.get(batchId);
  if (!members) throw notFound(`batch ${batchId}`, { batchId });
  if (members.size === 0) throw refused('empty-batch', `batch ${batchId} has no devices`, { batchId });
  const mine = [...members].filter((deviceId) => view.coveringRevocation(deviceId) === revocationId);
  if (mine.length > 0)
    return {
      kind: 'nothing-to-do',
      result: { revocationId, devices: mine.length, alreadyRevoked: members.size - mine.length },
    };
  const pending = [...members].filter((deviceId) => !view.coveringRevocation(deviceId)).sort();
  const alreadyRevoked = members.size - pending.length;
  if (pending.length === 0)
    return {
      kind: 'nothing-to-do',
      result: { revocationId: view.coveringRevocation([...members][0]!)!, devices: 0, alreadyRevoked },
    };
  if (pending.length > maxDevicesPerRevocation)
    throw refused('TOO_LARGE', `one revocation names at most ${maxDevicesPerRevocation} devices`, {
      batchId,
      devices: pending.length,
    });
  return {
    kind: 'start',
    request: { revocationId, scope: 'batch', batchId, deviceIds: pending, reason },
    alreadyRevoked,
  };
}
