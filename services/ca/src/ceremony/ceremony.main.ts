/**
 * The CA's admin ceremony as a command line (`npm run ca:ceremony -- <step>`), run by an admin with
 * the root key material, never by the service:
 *
 *   create-root                     a root key (a file sealed under CA_ROOT_KEK_FILE, or in a
 *                                   PKCS#11 token), the self-signed root, AuthorityCreated
 *   sign-issuing-ca --owner <id>    the owner's issuing CA: a key wrapped under the service's KEK
 *                                   (CA_KEK_FILE) into its key bucket, signed by the root, recorded
 *
 * Root key: CA_ROOT_KEY_FILE (the sealed key) with CA_ROOT_KEK_FILE (its KEK: not the service's),
 * or, with PKCS11_TOKEN_LABEL set, the key CA_ROOT_KEY_LABEL in that token (PKCS11_MODULE,
 * PKCS11_PIN_FILE). NATS_URL and TUNNELKEY_NAMESPACE name the deployment, as for the service.
 */
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { connectNats, jetStreamReplicasFromEnv, natsConnectionConfig, natsConnectionOptions } from '@tunnelkey/config';
import {
  generateWrappedCaKey,
  loadKek,
  loadPkcs11Options,
  Pkcs11Token,
  unwrapCaSigner,
  type Kek,
  type Signer,
} from '@tunnelkey/pki';
import { pino } from 'pino';
import { caConfigFromEnv } from '../config.js';
import { ceremonyOnNats } from './run-ceremony.js';

const env = process.env;
const logger = pino({ name: 'ca-ceremony', level: env.LOG_LEVEL ?? 'info' });
const ROOT_KEY_BINDING = 'root';

const fail = (message: string): never => {
  process.stderr.write(`ca:ceremony: ${message}\n`);
  process.exit(2);
};

const readFileBytes = (path: string) => readFile(path);

const rootKek = async (): Promise<Kek> => {
  if (env.CA_ROOT_KEK !== undefined) fail('CA_ROOT_KEK is not read: put the root KEK in a file (CA_ROOT_KEK_FILE)');
  if (!env.CA_ROOT_KEK_FILE) fail('set CA_ROOT_KEK_FILE (the root key KEK, not the service one)');
  return loadKek({ env: { CA_KEK_FILE: env.CA_ROOT_KEK_FILE }, readFile: readFileBytes });
};

const serviceKek = () =>
  loadKek({ env: { CA_KEK: env.CA_KEK, CA_KEK_FILE: env.CA_KEK_FILE }, readFile: readFileBytes });

/** The root signer: in the token (PKCS11_TOKEN_LABEL) or unsealed from CA_ROOT_KEY_FILE; `create` makes it. */
async function rootSigner(create: boolean): Promise<{ signer: Signer; kekId?: string; close(): Promise<void> }> {
  if (env.PKCS11_TOKEN_LABEL) {
    const token = await Pkcs11Token.open(await loadPkcs11Options({ env, readFile: readFileBytes }));
    const label = env.CA_ROOT_KEY_LABEL || 'tunnelkey-root';
    const signer = create ? await token.generateKey(label) : await token.signer(label);
    return { signer, close: () => token.close() };
  }
  const file = env.CA_ROOT_KEY_FILE || fail('set CA_ROOT_KEY_FILE (or PKCS11_TOKEN_LABEL for a root key in a token)');
  const kek = await rootKek();
  if (create) {
    if (existsSync(file)) fail(`CA_ROOT_KEY_FILE ${file} exists: refusing to overwrite a root key`);
    const { wrapped, signer } = await generateWrappedCaKey({ kek, caId: ROOT_KEY_BINDING });
    await writeFile(file, wrapped, { mode: 0o600, flag: 'wx' });
    return { signer, kekId: kek.id, close: async () => undefined };
  }
  const signer = await unwrapCaSigner({ wrapped: await readFile(file), kek, caId: ROOT_KEY_BINDING });
  return { signer, kekId: kek.id, close: async () => undefined };
}

async function main(): Promise<void> {
  const [step, ...args] = process.argv.slice(2);
  if (step !== 'create-root' && step !== 'sign-issuing-ca')
    fail('usage: ca:ceremony -- create-root | sign-issuing-ca --owner <ownerId>');
  const ownerAt = args.indexOf('--owner');
  const ownerId = ownerAt >= 0 ? args[ownerAt + 1] : undefined;
  if (step === 'sign-issuing-ca' && !ownerId) fail('sign-issuing-ca needs --owner <ownerId>');
  const config = caConfigFromEnv(env);
  const kek = step === 'sign-issuing-ca' ? await serviceKek() : undefined;
  const root = await rootSigner(step === 'create-root');
  if (kek && root.kekId === kek.id) fail("the root key is sealed under the service's KEK: use a KEK of its own");
  const nats = await connectNats(await natsConnectionOptions(natsConnectionConfig(env), { name: 'ca-ceremony' }));
  try {
    // create-root never touches the service's key bucket; its KEK is only needed to sign issuing CAs.
    const ceremony = await ceremonyOnNats({
      nats,
      namespace: config.namespace,
      ...(kek ? { serviceKek: kek } : {}),
      settings: config,
      logger,
      replicas: jetStreamReplicasFromEnv(env),
    });
    const recorded =
      step === 'create-root'
        ? await ceremony.createRoot(root.signer)
        : await ceremony.signIssuingCa(ownerId!, root.signer);
    process.stdout.write(
      `${JSON.stringify({ authorityId: recorded.authorityId, fingerprintSha256: recorded.fingerprintSha256 })}\n${recorded.certificatePem}`,
    );
  } finally {
    await root.close();
    await nats.drain();
  }
}

main().catch((error: unknown) => {
  const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
  fail(`${name}: ${message}`);
});
