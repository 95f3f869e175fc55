import { InvalidPufParameterError } from '../errors.js';

/**
 * What a derived key is for. Each context has its own HKDF label, so keys of different contexts
 * are independent: leaking a TLS generation's key says nothing about the enrolment key or
 * another owner epoch's key.
 */
export type KeyContext =
  | { readonly purpose: 'enrolment' }
  /** `epoch`: the owner epoch (0, the first owner's, when absent); each transfer moves the device to the next. */
  | { readonly purpose: 'tls'; readonly generation: number; readonly epoch?: number }
  | { readonly purpose: 'owner'; readonly epoch: number }
  /** `epoch`: as for `tls`. */
  | { readonly purpose: 'firmware-decryption'; readonly epoch?: number };

/**
 * The context of the device's ML-KEM-768 decapsulation key (firmware key wrap, with the ECDH key of
 * `firmware-decryption`). Not a KeyContext: it yields a 64-byte ML-KEM seed, not a P-256 pair.
 */
export type KemKeyContext = { readonly purpose: 'firmware-kem'; readonly epoch?: number };

export const ENROLMENT_CONTEXT: KeyContext = Object.freeze({ purpose: 'enrolment' });
/** The firmware-decryption contexts of owner epoch 0 (`firmwareDecryptionContext(0)`, `firmwareKemContext(0)`). */
export const FIRMWARE_KEM_CONTEXT: KemKeyContext = Object.freeze({ purpose: 'firmware-kem' });
export const FIRMWARE_DECRYPTION_CONTEXT: KeyContext = Object.freeze({ purpose: 'firmware-decryption' });
/**
 * TLS key generation `generation` under owner epoch `epoch`: epoch 0 keeps the label devices had
 * before ownership transfer (their keys do not change); a later epoch's labels include it, so a new
 * owner's TLS keys are unrelated to every key of an earlier owner.
 */
export const tlsContext = (generation: number, epoch = 0): KeyContext =>
  epoch === 0 ? { purpose: 'tls', generation } : { purpose: 'tls', generation, epoch };
export const ownerContext = (epoch: number): KeyContext => ({ purpose: 'owner', epoch });
/**
 * The firmware-decryption keys (ECDH P-256, ML-KEM-768) of owner epoch `epoch`: labelled as TLS keys
 * are (epoch 0 keeps the labels devices always had), so a rollout after a transfer wraps for keys
 * no earlier owner ever saw.
 */
export const firmwareDecryptionContext = (epoch = 0): KeyContext =>
  epoch === 0 ? FIRMWARE_DECRYPTION_CONTEXT : { purpose: 'firmware-decryption', epoch };
export const firmwareKemContext = (epoch = 0): KemKeyContext =>
  epoch === 0 ? FIRMWARE_KEM_CONTEXT : { purpose: 'firmware-kem', epoch };

function counter(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new InvalidPufParameterError(`${name} must be an integer in [0, 2^32)`, { [name]: value });
  }
  return value;
}

/**
 * The one way a label names its owner epoch: epoch 0 (the first owner's) keeps the label devices had
 * before ownership transfer; a later epoch's label is under `owner/epoch/<n>/`.
 */
function epochLabel(epoch: number | undefined, label: string): string {
  const n = counter('epoch', epoch ?? 0);
  return n === 0 ? `tunnelkey/puf/key/v1/${label}` : `tunnelkey/puf/key/v1/owner/epoch/${n}/${label}`;
}

/** The HKDF info label of a context: stable, versioned, unambiguous (no free text). */
export function keyContextLabel(context: KeyContext | KemKeyContext): string {
  switch (context.purpose) {
    case 'enrolment':
      return 'tunnelkey/puf/key/v1/enrolment';
    case 'tls':
      return epochLabel(context.epoch, `tls/generation/${counter('generation', context.generation)}`);
    case 'owner':
      return `tunnelkey/puf/key/v1/owner/epoch/${counter('epoch', context.epoch)}`;
    case 'firmware-decryption':
      return epochLabel(context.epoch, 'firmware-decryption');
    case 'firmware-kem':
      return epochLabel(context.epoch, 'firmware-kem/ml-kem-768');
    default: {
      const never: never = context;
      throw new InvalidPufParameterError('unknown key context', {
        purpose: String((never as { purpose?: unknown }).purpose),
      });
    }
  }
}

/** Signing contexts get ECDSA keys; firmware decryption gets an ECDH key. */
export function keyAlgorithmOf(context: KeyContext): 'ECDSA' | 'ECDH' {
  return context.purpose === 'firmware-decryption' ? 'ECDH' : 'ECDSA';
}
