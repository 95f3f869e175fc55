/**
 * The Signer port over a PKCS#11 token (an HSM; SoftHSM in tests): the private key is generated
 * inside the token as sensitive and non-extractable and never leaves it. The process hashes the
 * TBS bytes, the token signs the digest (CKM_ECDSA, raw r || s) and the signature is re-encoded as
 * the DER ECDSA-Sig-Value the X.509 builders expect. One session per token, one operation on it
 * at a time (PKCS#11 sessions are not concurrent); the native call runs off the event loop.
 *
 * The PIN comes from a file (PKCS11_PIN_FILE), never from the environment, and is in no error or
 * log line.
 */
import { createHash, randomBytes } from 'node:crypto';
import type * as Pkcs11Js from 'pkcs11js';
import { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import { oidTlv, tlv } from '../encoding/der-writer.js';
import { TAG } from '../encoding/der-reader.js';
import { InvalidPkiInputError, SignerError } from '../errors.js';
import { parseEcSpki } from '../keys/spki.js';
import { OID } from '../oids.js';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithmName } from './algorithms.js';
import { rawEcdsaToDer } from './ecdsa-signature.js';
import type { Signer } from './signer.js';

type Pkcs11Module = typeof Pkcs11Js;
type Handle = Buffer;

export const DEFAULT_PKCS11_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface Pkcs11TokenOptions {
  /** Path of the PKCS#11 library (default: SoftHSM's). */
  module?: string;
  /** The token's label (as set at --init-token). */
  tokenLabel: string;
  /** The user PIN; read from a file by loadPkcs11Options, never from the environment. */
  pin: string;
}

export interface Pkcs11Sources {
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => Promise<Uint8Array | string> | Uint8Array | string;
}

/** PKCS11_MODULE, PKCS11_TOKEN_LABEL and PKCS11_PIN_FILE -> the token options (the PIN read from its file). */
export const loadPkcs11Options = async ({ env, readFile }: Pkcs11Sources): Promise<Pkcs11TokenOptions> => {
  if (env.PKCS11_PIN !== undefined)
    throw new InvalidPkiInputError('PKCS11_PIN is not read: put the PIN in a file and set PKCS11_PIN_FILE', {});
  const tokenLabel = env.PKCS11_TOKEN_LABEL?.trim();
  if (!tokenLabel) throw new InvalidPkiInputError('PKCS11_TOKEN_LABEL is not set', {});
  const pinFile = env.PKCS11_PIN_FILE?.trim();
  if (!pinFile) throw new InvalidPkiInputError('PKCS11_PIN_FILE is not set', {});
  let content: Uint8Array | string;
  try {
    content = await readFile(pinFile);
  } catch (e) {
    throw new InvalidPkiInputError('cannot read PKCS11_PIN_FILE', { path: pinFile }, { cause: e });
  }
  const pin = (typeof content === 'string' ? content : Buffer.from(content).toString('utf8')).replace(/\r?\n$/, '');
  if (!pin) throw new InvalidPkiInputError('PKCS11_PIN_FILE is empty', { path: pinFile });
  return { module: env.PKCS11_MODULE?.trim() || DEFAULT_PKCS11_MODULE, tokenLabel, pin };
};

const assertKeyLabel = (label: string) => {
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(label))
    throw new InvalidPkiInputError('PKCS#11 key label must be 1..64 of [A-Za-z0-9._:-]', {});
};

const curveOfAlgorithm = (algorithm: SignatureAlgorithmName) => SIGNATURE_ALGORITHMS[algorithm].curveOid;

/** CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 2.40); some tokens give the bare point. */
const pointOf = (ecPoint: Buffer, fieldBytes: number): Uint8Array => {
  const pointBytes = 1 + 2 * fieldBytes;
  if (ecPoint.length === pointBytes && ecPoint[0] === 0x04) return new Uint8Array(ecPoint);
  if (ecPoint.length === pointBytes + 2 && ecPoint[0] === TAG.OCTET_STRING && ecPoint[1] === pointBytes)
    return new Uint8Array(ecPoint.subarray(2));
  throw new SignerError('the token returned an EC point in an unknown encoding', { length: ecPoint.length });
};

const spkiOf = (point: Uint8Array, algorithm: SignatureAlgorithmName): Uint8Array =>
  parseEcSpki(
    tlv(
      TAG.SEQUENCE,
      tlv(TAG.SEQUENCE, oidTlv(OID.ecPublicKey), oidTlv(curveOfAlgorithm(algorithm))),
      tlv(TAG.BIT_STRING, new Uint8Array([0]), point),
    ),
  ).spki;

/** A PKCS#11 library is initialised once per process: tokens of one module share it. */
interface LoadedModule {
  readonly path: string;
  readonly lib: Pkcs11Module;
  readonly pkcs11: Pkcs11Js.PKCS11;
  users: number;
}
const modules = new Map<string, LoadedModule>();

const acquireModule = async (path: string, context: Record<string, string>): Promise<LoadedModule> => {
  const known = modules.get(path);
  if (known) {
    known.users++;
    return known;
  }
  let lib: Pkcs11Module;
  try {
    const imported = (await import('pkcs11js')) as Pkcs11Module & { default?: Pkcs11Module };
    lib = imported.default ?? imported;
  } catch (e) {
    throw new SignerError('the pkcs11js binding is not installed or not built', context, { cause: e });
  }
  const again = modules.get(path); // another open may have loaded it meanwhile
  if (again) {
    again.users++;
    return again;
  }
  const pkcs11 = new lib.PKCS11();
  try {
    pkcs11.load(path);
    pkcs11.C_Initialize();
  } catch (e) {
    throw new SignerError(
      `cannot load the PKCS#11 module: ${pkcs11ErrorName(e)}`,
      { ...context, module: path },
      { cause: e },
    );
  }
  const loaded = { path, lib, pkcs11, users: 1 };
  modules.set(path, loaded);
  return loaded;
};

const releaseModule = (loaded: LoadedModule): void => {
  loaded.users--;
  if (loaded.users > 0) return;
  modules.delete(loaded.path);
  try {
    loaded.pkcs11.C_Finalize();
  } catch {
    // finalising at the end: nothing left to protect
  }
};

/** A logged-in session on one token: finds or generates keys and hands out signers for them. */
export class Pkcs11Token {
  readonly #module: LoadedModule;
  readonly #lib: Pkcs11Module;
  readonly #pkcs11: Pkcs11Js.PKCS11;
  readonly #session: Handle;
  readonly #one = new ConcurrencyLimiter(1);
  #closed = false;

  private constructor(
    module: LoadedModule,
    session: Handle,
    readonly tokenLabel: string,
  ) {
    this.#module = module;
    this.#lib = module.lib;
    this.#pkcs11 = module.pkcs11;
    this.#session = session;
  }

  /** Loads the module, finds the token by its label, opens a read-write session and logs in. */
  static async open(options: Pkcs11TokenOptions): Promise<Pkcs11Token> {
    const context = { tokenLabel: options.tokenLabel };
    const module = options.module ?? DEFAULT_PKCS11_MODULE;
    const loaded = await acquireModule(module, context);
    const { lib, pkcs11 } = loaded;
    let session: Handle | undefined;
    try {
      const slot = pkcs11
        .C_GetSlotList(true)
        .find((s) => pkcs11.C_GetTokenInfo(s).label.trim() === options.tokenLabel.trim());
      if (!slot) throw new SignerError('no PKCS#11 token with this label', context);
      session = pkcs11.C_OpenSession(slot, lib.CKF_RW_SESSION | lib.CKF_SERIAL_SESSION);
      pkcs11.C_Login(session, lib.CKU_USER, options.pin);
      return new Pkcs11Token(loaded, session, options.tokenLabel);
    } catch (e) {
      try {
        if (session) pkcs11.C_CloseSession(session);
      } catch {
        // closing after a failed open: the first error is the one to report
      }
      releaseModule(loaded);
      if (e instanceof SignerError) throw e;
      // The binding's message names the PKCS#11 return code (e.g. CKR_PIN_INCORRECT), never the PIN.
      throw new SignerError(`cannot open the PKCS#11 token: ${pkcs11ErrorName(e)}`, context, { cause: e });
    }
  }

  /**
   * Generates an EC key pair inside the token under `label`: the private key is a token object,
   * private, sensitive and non-extractable, usable for signing only. Refuses a label in use.
   */
  async generateKey(label: string, algorithm: SignatureAlgorithmName = 'ECDSA-P256-SHA256'): Promise<Pkcs11Signer> {
    assertKeyLabel(label);
    const lib = this.#lib;
    return this.#run('generate', label, async () => {
      if (this.#find(lib.CKO_PRIVATE_KEY, label))
        throw new SignerError('a key with this label already exists in the token', this.#context(label));
      const id = randomBytes(16);
      const common = [
        { type: lib.CKA_KEY_TYPE, value: lib.CKK_EC },
        { type: lib.CKA_TOKEN, value: true },
        { type: lib.CKA_LABEL, value: label },
        { type: lib.CKA_ID, value: id },
      ];
      await this.#pkcs11.C_GenerateKeyPairAsync(
        this.#session,
        { mechanism: lib.CKM_EC_KEY_PAIR_GEN },
        [
          ...common,
          { type: lib.CKA_CLASS, value: lib.CKO_PUBLIC_KEY },
          { type: lib.CKA_VERIFY, value: true },
          { type: lib.CKA_EC_PARAMS, value: Buffer.from(oidTlv(curveOfAlgorithm(algorithm))) },
        ],
        [
          ...common,
          { type: lib.CKA_CLASS, value: lib.CKO_PRIVATE_KEY },
          { type: lib.CKA_PRIVATE, value: true },
          { type: lib.CKA_SIGN, value: true },
          { type: lib.CKA_SENSITIVE, value: true },
          { type: lib.CKA_EXTRACTABLE, value: false },
        ],
      );
    }).then(() => this.signer(label, algorithm));
  }

  /** A signer for the key pair under `label` (its private half stays in the token). */
  async signer(label: string, algorithm: SignatureAlgorithmName = 'ECDSA-P256-SHA256'): Promise<Pkcs11Signer> {
    assertKeyLabel(label);
    const lib = this.#lib;
    const { privateKey, spki } = await this.#run('find', label, async () => {
      const privateKey = this.#find(lib.CKO_PRIVATE_KEY, label);
      const publicKey = this.#find(lib.CKO_PUBLIC_KEY, label);
      if (!privateKey || !publicKey)
        throw new SignerError('no key pair with this label in the token', this.#context(label));
      const [ecPoint] = this.#pkcs11.C_GetAttributeValue(this.#session, publicKey, [{ type: lib.CKA_EC_POINT }]);
      const point = pointOf(ecPoint?.value ?? Buffer.alloc(0), SIGNATURE_ALGORITHMS[algorithm].fieldBytes);
      return { privateKey, spki: spkiOf(point, algorithm) };
    });
    return new Pkcs11Signer(algorithm, spki, (digest) =>
      this.#run('sign', label, async () => {
        this.#pkcs11.C_SignInit(this.#session, { mechanism: lib.CKM_ECDSA }, privateKey);
        return this.#pkcs11.C_SignAsync(this.#session, Buffer.from(digest), Buffer.alloc(256));
      }),
    );
  }

  /** What the token says about the private key's protection (CKA_SENSITIVE, CKA_EXTRACTABLE...). */
  async privateKeyAttributes(
    label: string,
  ): Promise<{ sensitive: boolean; extractable: boolean; neverExtractable: boolean }> {
    const lib = this.#lib;
    return this.#run('inspect', label, async () => {
      const key = this.#find(lib.CKO_PRIVATE_KEY, label);
      if (!key) throw new SignerError('no private key with this label in the token', this.#context(label));
      const [sensitive, extractable, neverExtractable] = this.#pkcs11
        .C_GetAttributeValue(this.#session, key, [
          { type: lib.CKA_SENSITIVE },
          { type: lib.CKA_EXTRACTABLE },
          { type: lib.CKA_NEVER_EXTRACTABLE },
        ])
        .map((a) => a.value[0] === 1);
      return { sensitive: sensitive!, extractable: extractable!, neverExtractable: neverExtractable! };
    });
  }

  /** Tries to read the private key's value; the token must refuse (the error is returned, not thrown). */
  async tryReadPrivateValue(label: string): Promise<{ refused: true; code: string } | { refused: false }> {
    const lib = this.#lib;
    return this.#run('inspect', label, async () => {
      const key = this.#find(lib.CKO_PRIVATE_KEY, label);
      if (!key) throw new SignerError('no private key with this label in the token', this.#context(label));
      try {
        this.#pkcs11.C_GetAttributeValue(this.#session, key, [{ type: lib.CKA_VALUE }]);
        return { refused: false };
      } catch (e) {
        return { refused: true, code: pkcs11ErrorName(e) };
      }
    });
  }

  /** Logs out and closes the session; signers of this token fail afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#one.run(async () => {
      try {
        this.#pkcs11.C_Logout(this.#session);
        this.#pkcs11.C_CloseSession(this.#session);
      } finally {
        releaseModule(this.#module);
      }
    });
  }

  #find(objectClass: number, label: string): Handle | undefined {
    const lib = this.#lib;
    this.#pkcs11.C_FindObjectsInit(this.#session, [
      { type: lib.CKA_CLASS, value: objectClass },
      { type: lib.CKA_LABEL, value: label },
    ]);
    try {
      return this.#pkcs11.C_FindObjects(this.#session) ?? undefined;
    } finally {
      this.#pkcs11.C_FindObjectsFinal(this.#session);
    }
  }

  #context(label: string) {
    return { tokenLabel: this.tokenLabel, keyLabel: label };
  }

  #run<T>(operation: string, label: string, task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new SignerError('the PKCS#11 token is closed', this.#context(label)));
    return this.#one.run(async () => {
      try {
        return await task();
      } catch (e) {
        if (e instanceof SignerError) throw e;
        throw new SignerError(`PKCS#11 ${operation} failed: ${pkcs11ErrorName(e)}`, this.#context(label), {
          cause: e,
        });
      }
    });
  }
}

/** Signs through the token: SHA-256/384 here, ECDSA on the digest in the token, DER out. */
export class Pkcs11Signer implements Signer {
  constructor(
    readonly algorithm: SignatureAlgorithmName,
    readonly publicKeySpki: Uint8Array,
    private readonly signDigest: (digest: Uint8Array) => Promise<Uint8Array>,
  ) {}

  async sign(data: Uint8Array): Promise<Uint8Array> {
    const alg = SIGNATURE_ALGORITHMS[this.algorithm];
    const digest = createHash(alg.hash.replace('-', '').toLowerCase()).update(data).digest();
    return rawEcdsaToDer(new Uint8Array(await this.signDigest(digest)), alg.fieldBytes);
  }
}

/** The PKCS#11 return code's name (CKR_...) or the error class: safe to log, never carries the PIN. */
const pkcs11ErrorName = (e: unknown): string => {
  if (e instanceof Error) {
    const code = /CKR_[A-Z_]+/.exec(e.message)?.[0];
    return code ?? e.name;
  }
  return 'unknown error';
};
