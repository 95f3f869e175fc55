import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/** Where a service's HTTP certificate and key are (PEM files); both or neither. */
export interface TlsFiles {
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/** A TLS file setting that cannot be used; names the variable, never a file's content. */
export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

/**
 * The HTTPS options of a service's HTTP server from TLS_CERT_FILE and TLS_KEY_FILE: undefined when
 * neither is set (plain HTTP), refused when only one is or a file cannot be read.
 */
export function httpsOptionsOf(files: TlsFiles): { cert: Buffer; key: Buffer } | undefined {
  const certFile = files.certFile?.trim() || undefined;
  const keyFile = files.keyFile?.trim() || undefined;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile)
    throw new TlsConfigError('TLS_CERT_FILE and TLS_KEY_FILE must be set together (HTTPS needs both)');
  const read = (file: string, variable: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new TlsConfigError(`${variable} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  return { cert: read(certFile, 'TLS_CERT_FILE'), key: read(keyFile, 'TLS_KEY_FILE') };
}

/** Is this peer address the machine itself? */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(plain) === 4) return plain.startsWith('127.');
  return plain === '::1';
}

/**
 * Who may read /metrics. With METRICS_TOKEN set: a request bearing it (compared in constant time),
 * from anywhere. Without: only the machine itself (a local Prometheus agent or sidecar); the
 * service's other clients never see its metrics.
 */
export function metricsAccess(
  request: { remoteAddress: string | undefined; authorization: string | undefined },
  metricsToken: string | undefined,
): 'allowed' | 'unauthenticated' | 'forbidden' {
  if (metricsToken) {
    const bearer = /^Bearer\s+(.+)$/i.exec(request.authorization ?? '')?.[1]?.trim();
    if (!bearer) return 'unauthenticated';
    const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
    return timingSafeEqual(digest(bearer), digest(metricsToken)) ? 'allowed' : 'unauthenticated';
  }
  return isLoopback(request.remoteAddress) ? 'allowed' : 'forbidden';
}
