/**
 * The broker agent as a service beside a real Mosquitto 2.0, on real NATS: configured like a
 * sidecar, it answers installs from onboarding's client, its /ready follows the broker process and
 * its /metrics count what it did.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerAgentClient, BrokerTrustRefusedError } from '@tunnelkey/broker-link';
import { natsFixture, startMosquitto, waitFor, type RunningMosquitto } from '@tunnelkey/testing';
import { pino } from 'pino';
import { startBrokerAgent, type RunningBrokerAgentService } from './start-broker-agent.js';

describe('broker agent service (real NATS, real Mosquitto 2.0)', () => {
  const nats = natsFixture({ prefix: 'bas' });
  let broker: RunningMosquitto;
  let agent: RunningBrokerAgentService;
  let bootstrap: { caPem: string; crlPem: string };
  let dir: string;

  beforeAll(async () => {
    await nats.setup();
    // The broker's first files as a deployment makes them (deploy/mosquitto/bootstrap.sh).
    dir = await mkdtemp(join(tmpdir(), 'tk-broker-agent-'));
    const repo = new URL('../../../', import.meta.url).pathname;
    execFileSync('sh', [join(repo, 'deploy/mosquitto/bootstrap.sh'), dir], { stdio: 'ignore' });
    const file = (name: string) => join(dir, name);
    broker = await startMosquitto({
      tls: {
        caFile: file('bootstrap-ca.pem'),
        crlFile: file('bootstrap-crl.pem'),
        certFile: file('server.pem'),
        keyFile: file('server.key'),
      },
    });
    bootstrap = { caPem: await readFile(broker.caFile, 'utf8'), crlPem: await readFile(broker.crlFile!, 'utf8') };
    agent = await startBrokerAgent({
      nats: nats.nc,
      env: {
        TUNNELKEY_NAMESPACE: nats.namespace,
        HTTP_PORT: '0',
        BROKER_ID: 'broker-s',
        BROKER_CA_FILE: broker.caFile,
        BROKER_CRL_FILE: broker.crlFile!,
        BROKER_ACL_FILE: broker.aclFile,
        BROKER_PID_FILE: broker.pidFile,
        BROKER_LOG_FILE: broker.logFile,
      },
      logger: pino({ level: 'silent' }),
    });
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await broker?.stop();
    await nats.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('answers an install from onboarding and counts it in /metrics', async () => {
    const client = new BrokerAgentClient(nats.nc, 'broker-s', { namespace: nats.namespace });
    await client.installTrust({ ...bootstrap, aclPatterns: [{ access: 'write', topic: 'devices/%u/telemetry' }] });
    await expect(
      client.installTrust({ caPem: bootstrap.crlPem, crlPem: bootstrap.crlPem, aclPatterns: [] }),
    ).rejects.toThrow(BrokerTrustRefusedError);
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toMatch(/broker_agent_trust_installs_seconds_count\{service="broker-agent",outcome="ok"\} 1/);
    expect(metrics).toMatch(/broker_agent_trust_installs_seconds_count\{service="broker-agent",outcome="refused"\} 1/);
  });

  test('/ready fails while the pid file names no live broker, and recovers', async () => {
    expect((await fetch(`${agent.url}/ready`)).status).toBe(200);
    const pid = await readFile(broker.pidFile, 'utf8');
    await writeFile(broker.pidFile, '999999\n');
    try {
      const response = await fetch(`${agent.url}/ready`);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ failing: ['broker'] });
    } finally {
      await writeFile(broker.pidFile, pid);
    }
    await waitFor(async () => (await fetch(`${agent.url}/ready`)).status === 200, { description: '/ready again' });
    expect(await (await fetch(`${agent.url}/health`)).json()).toMatchObject({ status: 'ok', service: 'broker-agent' });
  });
});
