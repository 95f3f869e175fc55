import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { startGateway, type RunningGateway } from './start-gateway.js';

// The gateway's HTTP framework (Fastify) takes the HTTPS options startService reads from
// TLS_CERT_FILE/TLS_KEY_FILE, as every other service's (Express) does.
const nats = natsFixture({ prefix: 'gwtls' });
const dir = mkdtempSync(join(tmpdir(), 'tk-gw-tls-'));
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

/** A request over HTTPS trusting only the test's certificate. */
function httpsCall(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(certFile), headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('gateway over HTTPS (TLS_CERT_FILE/TLS_KEY_FILE)', () => {
  const adminToken = `tls-admin-${randomUUID()}`;
  const metricsToken = `tls-metrics-${randomUUID()}`;
  let gateway: RunningGateway;

  beforeAll(async () => {
    await nats.setup();
    gateway = await startGateway({
      nats: nats.nc,
      namespace: nats.namespace,
      httpPort: 0,
      adminToken,
      metricsToken,
      tlsCertFile: certFile,
      tlsKeyFile: keyFile,
      logger: pino({ level: 'silent' }),
      nestLogger: false,
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await nats.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API, the probes, the metrics and the console over HTTPS only', async () => {
    expect(gateway.url).toMatch(/^https:\/\//);
    expect((await httpsCall(`${gateway.url}/health`)).status).toBe(200);
    const whoami = await httpsCall(`${gateway.url}/api/whoami`, { authorization: `Bearer ${adminToken}` });
    expect(whoami.status).toBe(200);
    expect(JSON.parse(whoami.body)).toMatchObject({ role: 'admin' });
    const metrics = await httpsCall(`${gateway.url}/metrics`, { authorization: `Bearer ${metricsToken}` });
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.body).toContain('gateway_http_requests_total{method="GET",route="/api/whoami",status="200"');
    expect((await httpsCall(`${gateway.url}/`)).status).toBe(200);
    const plain = await fetch(`${gateway.url.replace('https:', 'http:')}/health`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
  });
});
