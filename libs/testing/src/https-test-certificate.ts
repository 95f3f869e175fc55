/**
 * A self-signed P-256 certificate for 127.0.0.1/localhost in a temp directory (made by the openssl
 * CLI), for the specs that start a service over HTTPS (TLS_CERT_FILE/TLS_KEY_FILE), and a request
 * that trusts only that certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface HttpsTestCertificate {
  certFile: string;
  keyFile: string;
  /** GET over HTTPS trusting only this certificate. */
  get(
    url: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; type: string | undefined; body: string }>;
  /** Removes the directory. */
  remove(): void;
}

export function httpsTestCertificate(prefix: string): HttpsTestCertificate {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  const get: HttpsTestCertificate['get'] = (url, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = request(url, { ca: readFileSync(certFile), headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
      });
      req.on('error', reject);
      req.end();
    });
  return { certFile, keyFile, get, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
