/** Test helper: the openssl CLI (and OpenSSL through Python, when present) as independent verifiers. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const run = (command: string, args: string[], input?: string): Promise<ProcessResult> =>
  new Promise((resolve) => {
    const child = execFile(command, args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });

export const openssl = (args: string[]): Promise<ProcessResult> => run('openssl', args);

/** A temp dir with the given files written into it; `cleanup` removes it. */
export async function tempFiles(files: Record<string, string | Uint8Array>) {
  const dir = await mkdtemp(join(tmpdir(), 'tunnelkey-firmware-'));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return { dir, path: (name: string) => join(dir, name), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** `openssl dgst -sha256 -verify`: true when the CLI says "Verified OK". */
export async function opensslVerifies(spkiDer: Uint8Array, bytes: Uint8Array, derSignature: Uint8Array) {
  const t = await tempFiles({ 'key.der': spkiDer, 'data.bin': bytes, 'sig.der': derSignature });
  try {
    const pem = await openssl([
      'pkey',
      '-pubin',
      '-inform',
      'DER',
      '-in',
      t.path('key.der'),
      '-out',
      t.path('key.pem'),
    ]);
    if (pem.code !== 0) return false;
    const r = await openssl([
      'dgst',
      '-sha256',
      '-verify',
      t.path('key.pem'),
      '-signature',
      t.path('sig.der'),
      t.path('data.bin'),
    ]);
    return r.code === 0 && /Verified OK/.test(r.stdout);
  } finally {
    await t.cleanup();
  }
}

const pythonMlDsa = `
import sys, json
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.backends.openssl import backend
a = json.load(sys.stdin)
key = mldsa.MLDSA65PublicKey.from_public_bytes(bytes.fromhex(a['pk']))
try:
    key.verify(bytes.fromhex(a['sig']), bytes.fromhex(a['msg']))
    ok = True
except InvalidSignature:
    ok = False
print(json.dumps({'ok': ok, 'openssl': backend.openssl_version_text()}))
`;

/**
 * ML-DSA-65 verification by OpenSSL (3.5+, through Python's `cryptography`), an implementation
 * independent of @noble/post-quantum. Undefined when this machine has no such Python module.
 */
export async function opensslMlDsa65Verifies(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<{ ok: boolean; openssl: string } | undefined> {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const r = await run(
    'python3',
    ['-c', pythonMlDsa],
    JSON.stringify({ pk: hex(publicKey), msg: hex(message), sig: hex(signature) }),
  );
  if (r.code !== 0) return undefined;
  return JSON.parse(r.stdout) as { ok: boolean; openssl: string };
}
