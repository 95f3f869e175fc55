import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { httpsTestCertificate, natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { startGateway, type RunningGateway } from './start-gateway.js';

// The gateway's HTTP framework (Fastify) takes the HTTPS options startService reads from
// TLS_CERT_FILE/TLS_KEY_FILE, as every other service's (Express) does.
const nats = natsFixture({ prefix: 'gwtls' });
const tls = httpsTestCertificate('tk-gw-tls');
const { certFile, keyFile } = tls;
const httpsCall = tls.get;

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
    tls.remove();
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
