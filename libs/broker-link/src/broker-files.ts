/**
 * The broker's trust files: the CAs it verifies device certificates against (cafile), their CRLs
 * (crlfile) and the topic patterns that give each device its rights under its own id (acl_file).
 * Checked before anything is written (PEM blocks of the expected kind only, nothing else in the
 * file) and written atomically (temp file + rename) so a reload never reads half a file.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BrokerTrustFiles } from './broker-messages.js';
import { BrokerTrustRefusedError, BrokerUnreachableError } from './errors.js';

export interface BrokerTrustPaths {
  caFile: string;
  /** The listener's crlfile: every CA in the cafile needs its CRL there. */
  crlFile: string;
  /** The broker's acl_file (`pattern` lines, `%u` the certificate's CN, i.e. the device id). */
  aclFile: string;
}

/** How the broker is told to re-read its files. */
export interface BrokerReloader {
  reload(): Promise<void>;
}

/** SIGHUP to the pid in the broker's pid_file (same host, or a pod sharing its process namespace). */
export function pidFileReloader(pidFile: string): BrokerReloader {
  return {
    async reload() {
      let pid: number;
      try {
        pid = Number((await readFile(pidFile, 'utf8')).trim());
      } catch (error) {
        throw new BrokerUnreachableError('broker pid file cannot be read', { pidFile }, { cause: error });
      }
      if (!Number.isInteger(pid) || pid <= 1)
        throw new BrokerUnreachableError('broker pid file holds no pid', { pidFile });
      try {
        process.kill(pid, 'SIGHUP');
      } catch (error) {
        throw new BrokerUnreachableError('broker process cannot be signalled', { pidFile, pid }, { cause: error });
      }
    },
  };
}

const blockPattern = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1-----/g;

/** The PEM blocks of `text`; refuses any other kind of block or any other text. */
function pemBlocksOnly(text: string, label: string, file: string): string[] {
  const blocks: string[] = [];
  for (const match of text.matchAll(blockPattern)) {
    if (match[1] !== label)
      throw new BrokerTrustRefusedError(`the ${file} may hold ${label} blocks only`, { file, found: match[1] });
    blocks.push(`${match[0].replace(/\r\n/g, '\n')}\n`);
  }
  if (text.replace(blockPattern, '').trim() !== '')
    throw new BrokerTrustRefusedError(`the ${file} holds something other than PEM blocks`, { file });
  if (blocks.length === 0) throw new BrokerTrustRefusedError(`the ${file} needs at least one ${label}`, { file });
  return blocks;
}

/** The three files' contents; throws BrokerTrustRefusedError for content the broker must not be given. */
export function renderBrokerFiles(files: BrokerTrustFiles): { ca: string; crl: string; acl: string } {
  const ca = pemBlocksOnly(files.caPem, 'CERTIFICATE', 'cafile').join('');
  const crl = pemBlocksOnly(files.crlPem, 'X509 CRL', 'crlfile').join('');
  const lines = ['# Written by the tunnelkey broker agent: each device its rights under its own id (%u).'];
  for (const pattern of files.aclPatterns) lines.push(`pattern ${pattern.access} ${pattern.topic}`);
  return { ca, crl, acl: `${lines.join('\n')}\n` };
}

export async function writeBrokerFiles(files: BrokerTrustFiles, paths: BrokerTrustPaths): Promise<void> {
  const rendered = renderBrokerFiles(files);
  await atomicWrite(paths.aclFile, rendered.acl);
  await atomicWrite(paths.crlFile, rendered.crl);
  await atomicWrite(paths.caFile, rendered.ca);
}

async function atomicWrite(path: string, content: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(temp, content, { mode: 0o644 });
  await rename(temp, path);
}
