/**
 * The broker's own server identity (a self-signed server CA and a certificate for 127.0.0.1 /
 * localhost), made with the openssl CLI: it is the broker operator's business, not the
 * platform's, and needs serverAuth, which the device certificate profile rightly lacks. Devices
 * receive the server CA as `serverCaPem` in their connection parameters.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BrokerServerIdentity {
  /** The CA devices pin to verify the broker (connection-parameters' serverCaPem). */
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function createBrokerServerIdentity(): Promise<BrokerServerIdentity> {
  const dir = await mkdtemp(join(tmpdir(), 'tk-broker-id-'));
  try {
    const f = (name: string) => join(dir, name);
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key')]);
    await run('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      f('ca.key'),
      '-subj',
      '/CN=tunnelkey local broker CA',
      '-days',
      '30',
      '-out',
      f('ca.pem'),
      '-addext',
      'basicConstraints=critical,CA:true',
      '-addext',
      'keyUsage=keyCertSign,cRLSign',
    ]);
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('server.key')]);
    await run('openssl', ['req', '-new', '-key', f('server.key'), '-subj', '/CN=localhost', '-out', f('server.csr')]);
    await writeFile(
      f('server.ext'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n',
    );
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      f('server.csr'),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '30',
      '-out',
      f('server.pem'),
      '-extfile',
      f('server.ext'),
    ]);
    return {
      caPem: await readFile(f('ca.pem'), 'utf8'),
      certPem: await readFile(f('server.pem'), 'utf8'),
      keyPem: await readFile(f('server.key'), 'utf8'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
