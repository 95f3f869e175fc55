/** Test helper: the openssl CLI as an independent verifier of what we build. Not part of the public API. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OpensslResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const openssl = (args: string[], cwd?: string): Promise<OpensslResult> =>
  new Promise((resolve) => {
    execFile('openssl', args, { cwd, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });

/** A temp dir with the given files written into it; `cleanup` removes it. */
export const tempFiles = async (files: Record<string, string | Uint8Array>) => {
  const dir = await mkdtemp(join(tmpdir(), 'tunnelkey-pki-'));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return { dir, path: (name: string) => join(dir, name), cleanup: () => rm(dir, { recursive: true, force: true }) };
};

/** `openssl crl -verify -noout` of a CRL (PEM) against the CA certificate in `caFile`; `options`: more (`-text`). */
export const opensslVerifyCrl = async (
  crlPem: string,
  caFile: string,
  ...options: string[]
): Promise<OpensslResult> => {
  const files = await tempFiles({ 'crl.pem': crlPem });
  try {
    return await openssl(['crl', '-verify', '-noout', ...options, '-CAfile', caFile, '-in', files.path('crl.pem')]);
  } finally {
    await files.cleanup();
  }
};
