/**
 * The key-encryption key (KEK) that protects CA private keys at rest. It comes from the
 * environment (CA_KEK, 32 bytes as hex or base64) or a mounted secret file (CA_KEK_FILE: raw 32
 * bytes, or hex/base64 text). It is held only as a non-extractable AES-GCM CryptoKey.
 */
import { createHash } from 'node:crypto';
import { subtle, type CryptoKey } from '../engine.js';
import { asBytes, toHex } from '../encoding/bytes.js';
import { KekError } from '../errors.js';

export const KEK_BYTES = 32;

export interface KekSources {
  /** Usually process.env. */
  env: Readonly<Record<string, string | undefined>>;
  /** Reads CA_KEK_FILE; injectable for tests (e.g. `(p) => fs.promises.readFile(p)`). */
  readFile?: (path: string) => Promise<Uint8Array | string> | Uint8Array | string;
  /** The variable holding the KEK (default `CA_KEK`); `<variable>_FILE` names its file instead. */
  variable?: string;
}

export class Kek {
  private constructor(
    /** Public fingerprint of the KEK (8 bytes hex), stored with wrapped keys to report a KEK mismatch. */
    readonly id: string,
    /** AES-256-GCM, non-extractable. */
    readonly key: CryptoKey,
  ) {}

  /** From 32 key bytes. The caller's buffer is left untouched; our copies are zeroed after import. */
  static async fromBytes(bytes: Uint8Array): Promise<Kek> {
    assertStrongKey(bytes);
    const copy = bytes.slice();
    try {
      const id = toHex(createHash('sha256').update('tunnelkey/kek-id/v1').update(copy).digest().subarray(0, 8));
      const key = await subtle.importKey('raw', copy, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
      return new Kek(id, key);
    } finally {
      copy.fill(0);
    }
  }

  /** Never print key material, even by accident. */
  toJSON(): { id: string } {
    return { id: this.id };
  }
}

/** Refuses keys of the wrong size and keys that are obviously not random. */
const assertStrongKey = (key: Uint8Array): void => {
  if (key.length !== KEK_BYTES) throw new KekError(`KEK must be ${KEK_BYTES} bytes`, { length: key.length });
  const distinct = new Set(key).size;
  const delta = ((key[1] ?? 0) - (key[0] ?? 0) + 256) % 256;
  const progression = key.every((b, i) => i === 0 || (b - (key[i - 1] ?? 0) + 256) % 256 === delta);
  // 32 random bytes have ~30 distinct values; fewer than 16 (or a counter pattern) is a placeholder.
  if (distinct < 16 || progression) throw new KekError('KEK is too weak (repeated or sequential bytes)', { distinct });
  // All printable ASCII (p ~ 1e-14 for random bytes): a passphrase was used where a key belongs.
  if (key.every((b) => b >= 0x20 && b < 0x7f)) {
    throw new KekError('KEK looks like text; provide 32 random bytes as hex or base64', {});
  }
};

/** Hex (64 chars) or base64/base64url (standard or unpadded) text -> 32 bytes. */
export const decodeKekText = (text: string, source: string): Uint8Array => {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return new Uint8Array(Buffer.from(t, 'hex'));
  if (/^[A-Za-z0-9+/]{43}=?$/.test(t) || /^[A-Za-z0-9_-]{43}=?$/.test(t)) {
    const bytes = new Uint8Array(Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
    if (bytes.length === KEK_BYTES) return bytes;
  }
  throw new KekError('KEK is not 32 bytes encoded as hex (64 characters) or base64 (44 characters)', {
    source,
    length: t.length,
  });
};

/**
 * Loads the KEK from exactly one of CA_KEK or CA_KEK_FILE (or `<variable>` and `<variable>_FILE`
 * for another service's KEK); both or neither is a configuration error.
 */
export const loadKek = async ({ env, readFile, variable = 'CA_KEK' }: KekSources): Promise<Kek> => {
  const fileVariable = `${variable}_FILE`;
  const inlineText = env[variable];
  const fileText = env[fileVariable];
  const inline = inlineText?.trim() ? inlineText : undefined;
  const file = fileText?.trim() ? fileText.trim() : undefined;
  if (inline && file) throw new KekError(`set ${variable} or ${fileVariable}, not both`, {});
  if (!inline && !file) throw new KekError(`no KEK configured: set ${variable} or ${fileVariable}`, {});
  let bytes: Uint8Array;
  if (inline) {
    bytes = decodeKekText(inline, variable);
  } else {
    if (!readFile) throw new KekError(`${fileVariable} is set but no file reader was provided`, { path: file });
    let content: Uint8Array | string;
    try {
      content = await readFile(file!);
    } catch (e) {
      throw new KekError(`cannot read ${fileVariable}`, { path: file }, { cause: e });
    }
    if (typeof content !== 'string' && content.length === KEK_BYTES) {
      bytes = content; // a raw 32-byte secret
    } else {
      const text = typeof content === 'string' ? content : Buffer.from(asBytes(content)).toString('utf8');
      bytes = decodeKekText(text, fileVariable);
    }
  }
  try {
    return await Kek.fromBytes(bytes);
  } finally {
    bytes.fill(0); // our decoded copy, or the buffer readFile handed us
  }
};
