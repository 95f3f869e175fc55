/** What handling a verified device message came to; a refusal is answered with a signed `rejection`. */
export type UplinkOutcome = { accepted: true; detail?: string } | { accepted: false; code: string; message?: string };

export const acceptedUplink = (detail?: string): UplinkOutcome => ({ accepted: true, ...(detail ? { detail } : {}) });
export const refusedUplink = (code: string, message?: string): UplinkOutcome => ({
  accepted: false,
  code,
  ...(message ? { message } : {}),
});
