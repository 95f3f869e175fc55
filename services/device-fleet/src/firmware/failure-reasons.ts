import type { updateFailureReasons } from '@tunnelkey/contracts';
import type { UpdateRefusalReason } from '@tunnelkey/firmware';

export type UpdateFailureReason = (typeof updateFailureReasons)[number];

/** A device refusal (@tunnelkey/firmware) as the reason its update report gives (contracts). */
export function failureReasonOf(reason: UpdateRefusalReason): UpdateFailureReason {
  switch (reason) {
    case 'signature':
    case 'rollback':
    case 'expired':
    case 'product':
    case 'digest':
    case 'decrypt':
      return reason;
    case 'stale':
      return 'stale-metadata';
    case 'length':
      return 'digest';
    case 'malformed':
      return 'other';
    default: {
      const never: never = reason;
      return never;
    }
  }
}
