/**
 * What handling a verified device message came to. A refusal is answered with a signed
 * `rejection`; a dropped message is not answered at all (counted in the metrics only).
 */
export type UplinkOutcome =
  | { accepted: true; detail?: string }
  | { accepted: false; code: string; message?: string; silent?: true };

export const acceptedUplink = (detail?: string): UplinkOutcome => ({ accepted: true, ...(detail ? { detail } : {}) });
export const refusedUplink = (code: string, message?: string): UplinkOutcome => ({
  accepted: false,
  code,
  ...(message ? { message } : {}),
});
/** Refused without a reply: answering would cost a platform signature for a sender nobody vouches for. */
export const droppedUplink = (code: string): UplinkOutcome => ({ accepted: false, code, silent: true });
