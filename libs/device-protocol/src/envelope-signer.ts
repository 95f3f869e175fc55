import type { CryptoKey } from './crypto-key.js';
import { randomBytes } from 'node:crypto';
import {
  deviceProtocolVersion,
  type DeviceEnvelope,
  type DeviceMessageDefinition,
  type DeviceBodyOf,
} from '@tunnelkey/contracts';
import { signEnvelope } from './signature.js';

/**
 * Builds signed envelopes for one party talking about one device: a device (uplink) or the
 * platform (downlink). Owns the strictly increasing counter the receiver checks against replay.
 */
export class EnvelopeSigner {
  constructor(
    private readonly deviceId: string,
    private counter: number,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The counter of the last message signed; persist it so a restart never reuses one. */
  get lastCounter(): number {
    return this.counter;
  }

  async sign<M extends DeviceMessageDefinition>(
    definition: M,
    body: DeviceBodyOf<M>,
    key: { keyId: string; privateKey: CryptoKey },
  ): Promise<DeviceEnvelope<M['kind'], DeviceBodyOf<M>>> {
    this.counter += 1;
    return signEnvelope(
      {
        version: deviceProtocolVersion,
        deviceId: this.deviceId,
        kind: definition.kind,
        counter: this.counter,
        nonce: randomBytes(16).toString('base64'),
        sentAt: this.clock().toISOString(),
        keyId: key.keyId,
        body,
      },
      key.privateKey,
    );
  }
}
