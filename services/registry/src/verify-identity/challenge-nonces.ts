import { createHash, createHmac, randomBytes } from 'node:crypto';

export interface Challenge {
  challengeId: string;
  /** Sent to the device only; the log keeps its digest. */
  nonce: string;
  nonceDigest: string;
}

/**
 * Challenge nonces derived with a per-process secret from (command id, device id): unpredictable to
 * anyone else, fresh per command, and the same again when the same command is retried, so a
 * retry can re-send the challenge the log already holds instead of issuing a second one.
 */
export class ChallengeNonces {
  readonly #secret = randomBytes(32);

  challengeFor(commandId: string, deviceId: string): Challenge {
    const nonce = createHmac('sha256', this.#secret)
      .update(`identity-challenge\u0000${commandId}\u0000${deviceId}`)
      .digest();
    const challengeId = `c-${createHash('sha256').update(`${commandId}\u0000${deviceId}`).digest('hex').slice(0, 32)}`;
    return { challengeId, nonce: nonce.toString('base64'), nonceDigest: nonceDigestOf(nonce) };
  }
}

export function nonceDigestOf(nonce: Uint8Array): string {
  return createHash('sha256').update(nonce).digest('hex');
}
