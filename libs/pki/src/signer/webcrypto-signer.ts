/** Signer over a WebCrypto ECDSA private key (non-extractable is fine: we only ever call sign). */
import { KeyObject, sign as nodeSign } from 'node:crypto';
import { subtle, type CryptoKey, type CryptoKeyPair, type EcKeyAlgorithm } from '../engine.js';
import { asBytes } from '../encoding/bytes.js';
import { InvalidPkiInputError, SignerError } from '../errors.js';
import { type SignatureAlgorithmName, SIGNATURE_ALGORITHMS } from './algorithms.js';
import { rawEcdsaToDer } from './ecdsa-signature.js';
import type { Signer } from './signer.js';

/** A fresh P-256 key pair; the private key is non-extractable unless asked (CA keys are, to be wrapped). */
export const generateP256KeyPair = async (options: { extractable?: boolean } = {}): Promise<CryptoKeyPair> =>
  (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, options.extractable ?? false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;

/** DER SubjectPublicKeyInfo of a public CryptoKey. */
export const exportSpki = async (publicKey: CryptoKey): Promise<Uint8Array> =>
  asBytes(await subtle.exportKey('spki', publicKey));

const algorithmOfKey = (key: CryptoKey): SignatureAlgorithmName => {
  const alg = key.algorithm as EcKeyAlgorithm;
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-256') return 'ECDSA-P256-SHA256';
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-384') return 'ECDSA-P384-SHA384';
  throw new InvalidPkiInputError('signer key must be an ECDSA P-256 or P-384 key', { algorithm: alg.name });
};

export class WebCryptoSigner implements Signer {
  #keyObject: KeyObject | undefined;

  private constructor(
    readonly algorithm: SignatureAlgorithmName,
    readonly publicKeySpki: Uint8Array,
    private readonly privateKey: CryptoKey,
  ) {}

  /** From a private key and its public half (CryptoKey or SPKI DER). */
  static async create(privateKey: CryptoKey, publicKey: CryptoKey | Uint8Array): Promise<WebCryptoSigner> {
    if (privateKey.type !== 'private' || !privateKey.usages.includes('sign')) {
      throw new InvalidPkiInputError('signer needs a private key with the sign usage', {});
    }
    const spki = publicKey instanceof Uint8Array ? publicKey : await exportSpki(publicKey);
    return new WebCryptoSigner(algorithmOfKey(privateKey), spki, privateKey);
  }

  static fromKeyPair(pair: CryptoKeyPair): Promise<WebCryptoSigner> {
    return WebCryptoSigner.create(pair.privateKey, pair.publicKey);
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    const alg = SIGNATURE_ALGORITHMS[this.algorithm];
    let raw: Uint8Array;
    try {
      // node's one-shot sign on the same key material: half the CPU of a WebCrypto sign on Node 20.
      this.#keyObject ??= KeyObject.from(this.privateKey);
      raw = nodeSign(alg.nodeHash, data, { key: this.#keyObject, dsaEncoding: 'ieee-p1363' });
    } catch (e) {
      throw new SignerError('signing failed', { algorithm: this.algorithm }, { cause: e });
    }
    return rawEcdsaToDer(raw, alg.fieldBytes);
  }
}
