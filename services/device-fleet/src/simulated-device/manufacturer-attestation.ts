/**
 * The manufacturer's attestation of a device, made at the factory: a manufacturer key (P-256)
 * signs the device's enrolment public key (`manufacturerAttestationBytes` from contracts). The
 * device keeps it in flash and sends it with its enrolment-key-report, so a batch that has this
 * key registered (RegisterManufacturerKey) enrols it on an open request without an operator.
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAggregateId, manufacturerAttestationBytes } from '@tunnelkey/contracts';
import { InvalidFleetOptionError } from '../errors.js';

export interface ManufacturerKey {
  /** The id the key is registered under with the batch. */
  keyId: string;
  privateKey: KeyObject;
}

export interface ManufacturerAttestation {
  keyId: string;
  /** ECDSA P-256 SHA-256, r||s, base64. */
  signature: string;
}

/** A manufacturer key from PKCS#8 (PEM or DER); refused unless it is an EC P-256 private key. */
export function manufacturerKey(keyId: string, pkcs8: Uint8Array | string): ManufacturerKey {
  if (!isAggregateId(keyId))
    throw new InvalidFleetOptionError('the manufacturer key id must be an id ([A-Za-z0-9_-]{1,128})', {});
  let privateKey: KeyObject;
  try {
    const text = typeof pkcs8 === 'string' ? pkcs8 : Buffer.from(pkcs8).toString('latin1');
    privateKey = text.includes('-----BEGIN')
      ? createPrivateKey({ key: text, format: 'pem' })
      : createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  } catch {
    // The parser's message could quote key material: say only what was expected.
    throw new InvalidFleetOptionError('the manufacturer key is not a PKCS#8 private key (PEM or DER)', { keyId });
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new InvalidFleetOptionError('the manufacturer key must be an EC P-256 key', { keyId });
  return { keyId, privateKey };
}

/** Reads a manufacturer key's PKCS#8 file (the fleet CLI's --manufacturer-key-file). */
export async function loadManufacturerKeyFile(path: string, keyId: string): Promise<ManufacturerKey> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new InvalidFleetOptionError('the manufacturer key file cannot be read', {
      code: (error as NodeJS.ErrnoException).code ?? 'unknown',
    });
  }
  return manufacturerKey(keyId, bytes);
}

/** The manufacturer key's public half (SPKI DER, base64), as RegisterManufacturerKey takes it. */
export function manufacturerPublicKeyBase64(key: ManufacturerKey): string {
  return createPublicKey(key.privateKey).export({ format: 'der', type: 'spki' }).toString('base64');
}

/** The factory's signature over a device's enrolment public key (SPKI DER). */
export function attestEnrolmentKey(key: ManufacturerKey, enrolmentPublicKeySpki: Uint8Array): ManufacturerAttestation {
  const statement = { enrolmentPublicKey: Buffer.from(enrolmentPublicKeySpki).toString('base64') };
  const signature = sign('sha256', manufacturerAttestationBytes(statement), {
    key: key.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return { keyId: key.keyId, signature: signature.toString('base64') };
}
