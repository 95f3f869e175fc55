import { createHash } from 'node:crypto';
import { signatureValid, type SignatureCheck } from '@tunnelkey/firmware';

/**
 * One memo of signature checks for a whole simulated fleet. Real devices each verify on their own
 * chip; here a thousand simulated devices share two cores, and re-running the same ML-DSA-65
 * verification (~8 ms) over the same bytes, key and signature a thousand times only measures the
 * simulator. The answer is a pure function of exactly those inputs, so it is remembered under
 * their digest: a tampered signature or document is another entry and is verified for real.
 */
export class SharedSignatureChecks {
  readonly #results = new Map<string, boolean>();
  #hits = 0;
  #misses = 0;
  constructor(private readonly capacity = 256) {}

  readonly check: SignatureCheck = (key, bytes, signature) => {
    const id = createHash('sha256')
      .update(key.scheme)
      .update(key.publicKey)
      .update(Buffer.from([0]))
      .update(signature)
      .update(Buffer.from([0]))
      .update(bytes)
      .digest('base64');
    const known = this.#results.get(id);
    if (known !== undefined) {
      this.#hits++;
      return known;
    }
    this.#misses++;
    const valid = signatureValid(key, bytes, signature);
    if (this.#results.size >= this.capacity) this.#results.delete(this.#results.keys().next().value!);
    this.#results.set(id, valid);
    return valid;
  };

  get stats(): { hits: number; misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }
}
