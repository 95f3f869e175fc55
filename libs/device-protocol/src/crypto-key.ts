import { webcrypto } from 'node:crypto';

/** Node's WebCrypto (native, the fast one) and its key type; @types/node has no global CryptoKey. */
export const subtle = webcrypto.subtle;
export type CryptoKey = webcrypto.CryptoKey;
