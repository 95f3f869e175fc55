/**
 * What an owner sees of a device that changed hands: pure. The owner's era starts at the transfer
 * that gave it the device (the beginning, for its first owner); before it, only the custody chain
 * (every OwnershipTransferCompleted, with its signed custody record). Onboarding facts (connections,
 * telemetry, target certificates) count only on the owner's own targets: an old owner's broker may
 * still report on the device after the transfer, and the new owner sees none of it (a device never
 * transferred shows all of its facts). A platform
 * admin sees everything; the old owner sees nothing (the device is no longer its: 404).
 */
import type { HistoryEntry } from '../views/device-history.view.js';

export const custodyEventType = 'OwnershipTransferCompleted';

/** When `ownerId`'s era of the device began: the last transfer to it ('' when it never came by transfer). */
export function eraStartOf(entries: readonly HistoryEntry[], ownerId: string): string {
  let start = '';
  for (const entry of entries) {
    if (entry.type !== custodyEventType) continue;
    if ((entry.data as { ownerId?: string }).ownerId === ownerId && entry.occurredAt > start) start = entry.occurredAt;
  }
  return start;
}

/**
 * The entries `ownerId` sees. `targetOwnerOf`: the owner of a target (undefined: unknown). Entries
 * are kept in their order.
 */
export function entriesOfOwner(
  entries: readonly HistoryEntry[],
  ownerId: string,
  targetOwnerOf: (targetId: string) => string | undefined,
): HistoryEntry[] {
  // A device that never changed hands: every fact is its one owner's, whichever target reported it
  // (a target the directory does not know yet included), as its detail shows it.
  if (!entries.some((entry) => entry.type === custodyEventType)) return [...entries];
  const start = eraStartOf(entries, ownerId);
  return entries.filter((entry) => {
    if (entry.type === custodyEventType) return true;
    if (entry.occurredAt < start) return false;
    if (entry.context !== 'onboarding') return true;
    const targetId = (entry.data as { targetId?: unknown }).targetId;
    return typeof targetId !== 'string' || targetOwnerOf(targetId) === ownerId;
  });
}
