import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import { Counter, DeviceKeyId, EcdsaP256Signature, Nonce } from '../primitives.js';
import { compileContract } from '../validation.js';
import { deviceInboxSubject, deviceSubject, type DeviceDirection } from './subjects.js';

/** Which platform key signed a downlink message, e.g. `platform-1`; devices pin the matching public key. */
export const PlatformKeyId = Type.String({ pattern: '^platform-[a-z0-9-]{1,32}$' });

/** Current version of the device-protocol envelope. */
export const deviceProtocolVersion = 1;

/**
 * The signed envelope every device-protocol message travels in.
 * - `deviceId`: the device that sends (uplink) or receives (downlink); must equal the subject's.
 * - `counter`: strictly increasing per device and direction; a verifier refuses one not greater
 *   than the last it accepted (replay protection that survives a lost nonce cache).
 * - `nonce`: random per message, so two messages never sign the same bytes.
 * - `keyId`: which key signed: `enrolment` / `tls-<n>` for devices, `platform-<id>` for the platform.
 * - `signature`: ECDSA P-256 SHA-256, r||s base64, over `canonicalBytes(envelope without signature)`.
 */
export function deviceEnvelopeSchema<K extends string, B extends TSchema, KI extends TSchema>(
  kind: K,
  body: B,
  keyId: KI,
) {
  return Type.Object(
    {
      version: Type.Literal(deviceProtocolVersion),
      deviceId: AggregateId,
      kind: Type.Literal(kind),
      counter: Counter,
      nonce: Nonce,
      sentAt: IsoTimestamp,
      keyId,
      body,
      signature: EcdsaP256Signature,
    },
    { additionalProperties: false },
  );
}

export interface DeviceEnvelope<K extends string = string, B = unknown> {
  version: number;
  deviceId: string;
  kind: K;
  counter: number;
  nonce: string;
  sentAt: string;
  keyId: string;
  body: B;
  signature: string;
}

export type UnsignedDeviceEnvelope<K extends string = string, B = unknown> = Omit<DeviceEnvelope<K, B>, 'signature'>;

export interface DeviceMessageSpec<K extends string, B extends TObject> {
  /** Subject token, kebab-case, e.g. `identity-response`. */
  kind: K;
  /** `uplink`: device -> platform; `downlink`: platform -> device (its inbox). */
  direction: DeviceDirection;
  summary: string;
  body: B;
  /** Messages that prove the device's identity must be signed by its enrolment key. */
  signedWith?: 'enrolment';
}

export interface DeviceMessageDefinition<K extends string = string, B extends TObject = TObject> {
  readonly kind: K;
  readonly direction: DeviceDirection;
  readonly summary: string;
  readonly body: B;
  readonly schema: TSchema;
  /** The subject this message travels on for one device. */
  subject(deviceId: string, namespace?: string): string;
  is(value: unknown): value is DeviceEnvelope<K, Static<B>>;
  parse(value: unknown): DeviceEnvelope<K, Static<B>>;
}

export type DeviceMessageOf<M> =
  M extends DeviceMessageDefinition<infer K, infer B> ? DeviceEnvelope<K, Static<B>> : never;
export type DeviceBodyOf<M> = M extends DeviceMessageDefinition<string, infer B> ? Static<B> : never;

export function defineDeviceMessage<const K extends string, B extends TObject>(
  spec: DeviceMessageSpec<K, B>,
): DeviceMessageDefinition<K, B> {
  const keyId =
    spec.direction === 'downlink'
      ? PlatformKeyId
      : spec.signedWith === 'enrolment'
        ? Type.Literal('enrolment')
        : DeviceKeyId;
  const schema = deviceEnvelopeSchema(spec.kind, spec.body, keyId);
  const contract = compileContract<DeviceEnvelope<K, Static<B>>>(
    schema,
    `device message ${spec.direction} ${spec.kind}`,
  );
  const subject = spec.direction === 'uplink' ? deviceSubject : deviceInboxSubject;
  subject('probe', spec.kind); // refuses a kind that is not subject-safe, at definition time
  return Object.freeze({
    kind: spec.kind,
    direction: spec.direction,
    summary: spec.summary,
    body: spec.body,
    schema,
    subject: (deviceId: string, namespace = '') => subject(deviceId, spec.kind, namespace),
    is: contract.is,
    parse: contract.parse,
  });
}
