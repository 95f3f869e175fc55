import type { CryptoKey } from './crypto-key.js';
import {
  isContractViolation,
  parseDeviceSubject,
  validateDeviceMessage,
  type DeviceDirection,
  type DeviceEnvelope,
} from '@tunnelkey/contracts';
import { DeviceMessageRejected } from './errors.js';
import { ReplayGuard } from './replay-guard.js';
import { envelopeSignatureValid } from './signature.js';

/**
 * Finds the public key that must have signed this envelope: `undefined` when the device is
 * unknown, `null` when the device is known but the key id is not one it may sign with.
 */
export type VerifyKeyResolver = (envelope: DeviceEnvelope) => Promise<CryptoKey | null | undefined>;

export interface DeviceMessageVerifierOptions {
  /** `uplink` on the platform, `downlink` on a device. */
  direction: DeviceDirection;
  resolveKey: VerifyKeyResolver;
  namespace?: string;
  replayGuard?: ReplayGuard;
  clock?: () => Date;
  /** Larger messages are refused before parsing (default 64 KiB). */
  maxBytes?: number;
}

const defaultMaxBytes = 64 * 1024;
const decoder = new TextDecoder();

/**
 * The one way a received device-protocol message becomes trusted: size, JSON, contract, subject
 * matches envelope, known key, signature, then replay. The bus is not trusted, so nothing is
 * acted on before all of these pass; a refusal says which check failed and never echoes the payload.
 */
export class DeviceMessageVerifier {
  readonly replayGuard: ReplayGuard;
  private readonly clock: () => Date;

  constructor(private readonly options: DeviceMessageVerifierOptions) {
    this.replayGuard = options.replayGuard ?? new ReplayGuard();
    this.clock = options.clock ?? (() => new Date());
  }

  async verify(subject: string, data: Uint8Array): Promise<DeviceEnvelope> {
    const limit = this.options.maxBytes ?? defaultMaxBytes;
    if (data.length > limit)
      throw new DeviceMessageRejected('too-large', `device message of ${data.length} bytes exceeds ${limit}`, {
        subject,
      });
    const parts = parseDeviceSubject(subject, this.options.namespace);
    if (!parts || parts.direction !== this.options.direction) {
      throw new DeviceMessageRejected('subject-mismatch', `not a ${this.options.direction} device subject`, {
        subject,
      });
    }
    let envelope: DeviceEnvelope;
    try {
      envelope = validateDeviceMessage(JSON.parse(decoder.decode(data)), this.options.direction);
    } catch (error) {
      const reason = isContractViolation(error) ? error.message : 'not JSON';
      throw new DeviceMessageRejected(
        'malformed',
        `malformed ${parts.kind} message: ${reason}`,
        { subject, deviceId: parts.deviceId },
        { cause: error },
      );
    }
    const context = { subject, deviceId: envelope.deviceId, kind: envelope.kind, counter: envelope.counter };
    if (envelope.deviceId !== parts.deviceId || envelope.kind !== parts.kind) {
      throw new DeviceMessageRejected(
        'subject-mismatch',
        'envelope device id or kind differs from its subject',
        context,
      );
    }
    const key = await this.options.resolveKey(envelope);
    if (key === undefined)
      throw new DeviceMessageRejected('unknown-device', `device ${envelope.deviceId} is unknown`, context);
    if (key === null)
      throw new DeviceMessageRejected('wrong-key', `key ${envelope.keyId} may not sign ${envelope.kind}`, context);
    if (!(await envelopeSignatureValid(envelope, key))) {
      throw new DeviceMessageRejected('bad-signature', `signature of ${envelope.kind} does not verify`, context);
    }
    const verdict = this.replayGuard.judge(envelope.deviceId, envelope.counter, envelope.sentAt, this.clock());
    if (verdict !== 'fresh')
      throw new DeviceMessageRejected(verdict, `${envelope.kind} counter ${envelope.counter} is ${verdict}`, context);
    this.replayGuard.accept(envelope.deviceId, envelope.counter);
    return envelope;
  }
}
