import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { startService, type RunningService } from './index.js';

// Issue 14, finding 10: every service's HTTP side (health, readiness, metrics) speaks HTTPS when
// TLS_CERT_FILE/TLS_KEY_FILE are set, and /metrics is not public.
@Module({})
class EmptyModule {}

const dir = mkdtempSync(join(tmpdir(), 'tk-tls-'));
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

/** GET over HTTPS trusting only the test's certificate. */
function httpsGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(certFile), headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startService: HTTPS from TLS_CERT_FILE/TLS_KEY_FILE, /metrics behind METRICS_TOKEN', () => {
  let service: RunningService;
  const metricsToken = 'metrics-token-for-the-test-0123456789';

  beforeAll(async () => {
    service = await startService({
      service: 'edge',
      module: EmptyModule,
      logger: false,
      tls: { certFile, keyFile },
      metricsToken,
    });
  });
  afterAll(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the configured certificate, and no plain HTTP', async () => {
    expect(service.url).toMatch(/^https:\/\//);
    expect(await httpsGet(`${service.url}/health`)).toMatchObject({ status: 200 });
    const plain = await fetch(service.url.replace('https:', 'http:') + '/health').then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
  });

  it('answers /metrics only with the bearer token; /health and /ready stay open', async () => {
    expect((await httpsGet(`${service.url}/metrics`)).status).toBe(401);
    expect((await httpsGet(`${service.url}/metrics`, { authorization: 'Bearer wrong' })).status).toBe(401);
    const scraped = await httpsGet(`${service.url}/metrics`, { authorization: `Bearer ${metricsToken}` });
    expect(scraped.status).toBe(200);
    expect(scraped.body).toContain('process_cpu_user_seconds_total{service="edge"}');
    expect(scraped.body).not.toContain(metricsToken);
    expect((await httpsGet(`${service.url}/health`)).status).toBe(200);
    expect((await httpsGet(`${service.url}/ready`)).status).toBe(200);
  });

  it('refuses a certificate without its key before it starts, naming the variables', async () => {
    await expect(
      startService({ service: 'edge', module: EmptyModule, logger: false, tls: { certFile } }),
    ).rejects.toThrow(/TLS_CERT_FILE and TLS_KEY_FILE must be set together/);
  });
});
