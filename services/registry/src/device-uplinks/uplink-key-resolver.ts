import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { DeviceEnvelope } from '@tunnelkey/contracts';
import { importVerifyKey, type CryptoKey } from '@tunnelkey/device-protocol';
import { deviceIdMatchesPublicKey } from '@tunnelkey/puf';
import type { DeviceIdentity } from '../deciders/device-state.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';

/** Messages whose body carries the enrolment key they are signed with (the device may be unknown). */
const selfKeyedKinds: ReadonlySet<string> = new Set(['announce', 'enrolment-key-report']);
const maxCachedKeys = 100_000;

/**
 * Which key must have signed a device message, from the registry's device view: the enrolled
 * key; or, for announce and enrolment-key-report, the key in the body, provided the device id is
 * that key's digest and it does not contradict an enrolled one. Remembers which key digest each
 * envelope was checked against, for the deciders.
 */
@Injectable()
export class UplinkKeyResolver {
  readonly #keys = new Map<string, { digest: string; key: CryptoKey }>();
  readonly #checkedAgainst = new WeakMap<object, string>();

  #catchingUp: Promise<void> | undefined;

  constructor(private readonly devices: DeviceByIdView) {}

  readonly resolve = async (envelope: DeviceEnvelope): Promise<CryptoKey | null | undefined> => {
    if (envelope.keyId !== 'enrolment') return null;
    const selfKeyed = selfKeyedKinds.has(envelope.kind);
    // Self-keyed messages carry their key: an unknown device needs no lookup (the deciders check
    // the log when something is written). Others wait for the view, never read the log themselves.
    const enrolled = selfKeyed
      ? this.devices.identity(envelope.deviceId)
      : await this.#enrolledIdentity(envelope.deviceId);
    let identity: Pick<DeviceIdentity, 'enrolmentPublicKey' | 'enrolmentKeyDigest'> | undefined = enrolled;
    if (selfKeyed) {
      const claimed = (envelope.body as { enrolmentPublicKey?: unknown }).enrolmentPublicKey;
      if (typeof claimed !== 'string') return null;
      const spki = Buffer.from(claimed, 'base64');
      if (!deviceIdMatchesPublicKey(envelope.deviceId, spki)) return null;
      const digest = createHash('sha256').update(spki).digest('hex');
      if (enrolled && enrolled.enrolmentKeyDigest !== digest) return null;
      identity = { enrolmentPublicKey: claimed, enrolmentKeyDigest: digest };
    }
    if (!identity) return undefined;
    const key = await this.#key(envelope.deviceId, identity);
    if (key) this.#checkedAgainst.set(envelope, identity.enrolmentKeyDigest);
    return key;
  };

  /** The enrolment-key digest a verified envelope's signature was checked against. */
  digestFor(envelope: DeviceEnvelope): string | undefined {
    return this.#checkedAgainst.get(envelope);
  }

  async #enrolledIdentity(deviceId: string): Promise<DeviceIdentity | undefined> {
    // The view first; when it has not seen the device, one catch-up shared by every message that
    // missed meanwhile (a flood of unknown ids costs one catch-up at a time, not a read each).
    const known = this.devices.identity(deviceId);
    if (known) return known;
    this.#catchingUp ??= this.devices.catchUp().finally(() => (this.#catchingUp = undefined));
    await this.#catchingUp;
    return this.devices.identity(deviceId);
  }

  /** Importing a key costs about a millisecond: keep them per device while the key stays the same. */
  async #key(
    deviceId: string,
    identity: Pick<DeviceIdentity, 'enrolmentPublicKey' | 'enrolmentKeyDigest'>,
  ): Promise<CryptoKey | null> {
    const cached = this.#keys.get(deviceId);
    if (cached?.digest === identity.enrolmentKeyDigest) return cached.key;
    try {
      const key = await importVerifyKey(identity.enrolmentPublicKey);
      if (this.#keys.size >= maxCachedKeys) this.#keys.clear();
      this.#keys.set(deviceId, { digest: identity.enrolmentKeyDigest, key });
      return key;
    } catch {
      return null; // not a usable P-256 key: the message cannot be verified with it
    }
  }
}
