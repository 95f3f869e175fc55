/** Why a device-protocol message was refused. Stable codes; the message never echoes the payload. */
export const deviceMessageRejections = [
  'too-large',
  'malformed',
  'subject-mismatch',
  'unknown-device',
  'wrong-key',
  'bad-signature',
  'replayed',
  'stale',
] as const;
export type DeviceMessageRejectionCode = (typeof deviceMessageRejections)[number];

export class DeviceMessageRejected extends Error {
  override readonly name = 'DeviceMessageRejected';
  constructor(
    readonly code: DeviceMessageRejectionCode,
    message: string,
    readonly context: { subject?: string; deviceId?: string; kind?: string; counter?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isDeviceMessageRejected = (e: unknown): e is DeviceMessageRejected => e instanceof DeviceMessageRejected;
