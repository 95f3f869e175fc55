/** Signs TBS bytes through the port and wraps the result as the BIT STRING pkijs objects expect. */
import * as asn1js from 'asn1js';
import { toArrayBuffer } from '../encoding/bytes.js';
import { SignerError } from '../errors.js';
import type { Signer } from './signer.js';

/** The signer's signature over `tbs` (BIT STRING contents), with its failures as SignerError. */
export const signatureOver = async (signer: Signer, tbs: Uint8Array): Promise<Uint8Array> => {
  let signature: Uint8Array;
  try {
    signature = await signer.sign(tbs);
  } catch (e) {
    if (e instanceof SignerError) throw e;
    throw new SignerError('signer failed', { algorithm: signer.algorithm }, { cause: e });
  }
  if (!(signature instanceof Uint8Array) || signature.byteLength === 0) {
    throw new SignerError('signer returned no signature', { algorithm: signer.algorithm });
  }
  return signature;
};

export const signWith = async (signer: Signer, tbs: Uint8Array): Promise<asn1js.BitString> =>
  new asn1js.BitString({ valueHex: toArrayBuffer(await signatureOver(signer, tbs)) });
