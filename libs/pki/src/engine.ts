/**
 * The one place that binds pkijs to node's native WebCrypto. Every module that touches pkijs
 * imports it from here so the engine is set before first use, and passes `pkiEngine` explicitly
 * where pkijs accepts an engine (pkijs keeps its global engine per process id, which test
 * runners with several module registries would otherwise have to agree on).
 * Native WebCrypto is ~10x faster than @peculiar/webcrypto on Node 20; we keep the latter out.
 */
import type { webcrypto } from 'node:crypto';
import * as pkijs from 'pkijs';

// The workspace compiles without the DOM lib, so WebCrypto types come from node's definitions.
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type SubtleCrypto = webcrypto.SubtleCrypto;
export type EcKeyAlgorithm = webcrypto.EcKeyAlgorithm;

const nativeCrypto = globalThis.crypto as unknown as webcrypto.Crypto;
if (!nativeCrypto?.subtle) {
  throw new Error('@tunnelkey/pki needs globalThis.crypto (WebCrypto), available from Node 20');
}

export const pkiEngine: pkijs.ICryptoEngine = new pkijs.CryptoEngine({
  name: 'node',
  crypto: nativeCrypto as unknown as pkijs.CryptoEngineParameters['crypto'],
});
pkijs.setEngine('node', pkiEngine);

export const subtle: SubtleCrypto = nativeCrypto.subtle;

/** Default randomness; builders take their own `random` so known-answer tests can fix it. */
export const secureRandom = (length: number): Uint8Array => nativeCrypto.getRandomValues(new Uint8Array(length));

export { pkijs };
