import { custodyStatementBytes, type CustodyRole, type CustodyStatement } from '@tunnelkey/contracts';
import type { CryptoKey } from './crypto-key.js';
import { bytesSignatureValid, importVerifyKey, signBytes } from './signature.js';

/**
 * Custody records (ownership transfer): the old owner, the new owner and the device each sign the
 * same statement under their own role, ECDSA P-256 / SHA-256 (IEEE P1363, base64) as every other
 * signature of the protocol.
 */
export function signCustodyStatement(
  role: CustodyRole,
  statement: CustodyStatement,
  privateKey: CryptoKey,
): Promise<string> {
  return signBytes(custodyStatementBytes(role, statement), privateKey);
}

/** True when `signature` is `role`'s over the statement by the key `publicKeySpki` (DER or base64); false for a malformed key. */
export async function custodySignatureValid(
  role: CustodyRole,
  statement: CustodyStatement,
  signature: string,
  publicKeySpki: Uint8Array | string,
): Promise<boolean> {
  const key = await importVerifyKey(publicKeySpki).catch(() => undefined);
  if (!key) return false;
  return bytesSignatureValid(custodyStatementBytes(role, statement), signature, key);
}
