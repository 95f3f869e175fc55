import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { httpsTestCertificate } from '@tunnelkey/testing';
import { startService, type RunningService } from './index.js';

// Issue 14, finding 10: every service's HTTP side (health, readiness, metrics) speaks HTTPS when
// TLS_CERT_FILE/TLS_KEY_FILE are set, and /metrics is not public.
@Module({})
class EmptyModule {}

const tls = httpsTestCertificate('tk-tls');
const { certFile, keyFile } = tls;
const httpsGet = tls.get;

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
    tls.remove();
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
