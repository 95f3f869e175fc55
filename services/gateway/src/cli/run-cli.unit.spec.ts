import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliWithGatewayDouble, type GatewayCall } from '../test-support/gateway-double.test-helper.js';
import { runCli } from './run-cli.js';

// Issue 14, findings 5 and 7, at the CLI: a target's admin password is named (a secret file of the
// onboarding service), never sent; held enrolments are listed and decided. The gateway is a double
// that records what the CLI asked and answers like the real routes.
function cli(answer?: (call: GatewayCall) => unknown) {
  const double = cliWithGatewayDouble(answer, { TUNNELKEY_TARGET_PASSWORD: 'hunter2' });
  const { io, out, err } = double;
  return {
    io,
    out,
    err,
    /** What the CLI sent: method, path and JSON body. */
    get calls() {
      return double.calls.map(({ method, path, body }) => ({ method, path, body }));
    },
  };
}

describe('tunnelkey CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tk-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('registers a target naming its admin password file, with admin host, port and TLS CA; no password is sent', async () => {
    const caFile = join(dir, 'admin-ca.pem');
    await writeFile(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const run = cli();
    const code = await runCli(
      [
        'targets',
        'register',
        '--id',
        'plant-broker',
        '--name',
        'Plant broker',
        '--host',
        'mqtt.example.com',
        '--port',
        '8883',
        '--admin-user',
        'admin',
        '--admin-password-file',
        'plant-broker-admin',
        '--admin-host',
        'admin.internal',
        '--admin-port',
        '8884',
        '--admin-ca',
        caFile,
      ],
      run.io,
    );
    expect(run.err()).toBe('');
    expect(code).toBe(0);
    expect(run.calls).toEqual([
      {
        method: 'POST',
        path: '/api/targets',
        body: {
          targetId: 'plant-broker',
          kind: 'mosquitto',
          name: 'Plant broker',
          host: 'mqtt.example.com',
          tlsPort: 8883,
          admin: {
            username: 'admin',
            passwordFile: 'plant-broker-admin',
            host: 'admin.internal',
            port: 8884,
            tls: { caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
          },
        },
      },
    ]);
    expect(JSON.stringify(run.calls)).not.toContain('hunter2');
  });

  it('refuses to register a target without --admin-password-file, sending nothing', async () => {
    const run = cli();
    const code = await runCli(
      ['targets', 'register', '--id', 't', '--name', 'T', '--host', 'h', '--port', '8883', '--admin-user', 'admin'],
      run.io,
    );
    expect(code).toBe(2);
    expect(run.err()).toContain('--admin-password-file is required');
    expect(run.calls).toEqual([]);
  });

  it('lists the held enrolments of a batch', async () => {
    const run = cli(() => ({
      items: [{ requestId: 'r-1', deviceId: 'd-1', reason: 'unattested', decision: 'pending' }],
      total: 1,
      limit: 50,
      offset: 0,
    }));
    expect(await runCli(['enrolments', 'held', 'b-1', '--decision', 'pending'], run.io)).toBe(0);
    expect(run.calls).toEqual([
      { method: 'GET', path: '/api/batches/b-1/held-enrolments?decision=pending&limit=500&offset=0', body: undefined },
    ]);
    expect(run.out()).toContain('d-1');
    expect(run.out()).toContain('1 of 1 held devices');
  });

  it.each([
    ['approve', 'approved'],
    ['reject', 'rejected'],
  ])('%ss held devices of a request, and exits 3 when one could not be decided', async (verb, outcome) => {
    const run = cli(() => ({
      commandId: 'c-1',
      result: {
        batchId: 'b-1',
        requestId: 'r-1',
        devices: [
          { deviceId: 'd-1', outcome },
          { deviceId: 'd-2', outcome: 'not-held' },
        ],
      },
    }));
    const code = await runCli(['enrolments', verb, 'b-1', 'r-1', '--device', 'd-1', '--device', 'd-2'], run.io);
    expect(run.calls).toEqual([
      {
        method: 'POST',
        path: '/api/batches/b-1/enrolment-key-requests/r-1/decisions',
        body: { deviceIds: ['d-1', 'd-2'], decision: verb },
      },
    ]);
    expect(run.out()).toContain('not-held');
    expect(code).toBe(3);
  });

  it('refuses a decision without devices, sending nothing', async () => {
    const run = cli();
    expect(await runCli(['enrolments', 'approve', 'b-1', 'r-1'], run.io)).toBe(2);
    expect(run.calls).toEqual([]);
  });

  it('renews a batch after a suspected key exposure and follows its progress until every device switched', async () => {
    let polls = 0;
    const run = cli((call) => {
      if (call.path === '/api/renewals')
        return { commandId: 'c-1', result: { operationId: 'op-1', devices: 2, skipped: 0 } };
      polls++;
      const completed = Math.min(2, polls - 1);
      return { commandId: 'c-2', result: { operationId: 'op-1', requested: 2, renewed: 2, completed, expired: 0 } };
    });
    run.io.pollMs = 1;
    expect(await runCli(['renew', 'b-1', '--reason', 'key-exposure'], run.io)).toBe(0);
    expect(run.calls[0]).toMatchObject({
      method: 'POST',
      path: '/api/renewals',
      body: { scope: { kind: 'batch', batchId: 'b-1' }, reason: 'key-exposure' },
    });
    expect(run.calls.slice(1).every((c) => c.path === '/api/renewals/op-1/progress')).toBe(true);
    expect(run.out()).toContain('2 of 2 devices renewed');
  });

  it("sets a policy's renewal (short-lived certificates), and refuses a share outside 0..1, sending nothing", async () => {
    const run = cli();
    const args = ['policies', 'renewal', 'fridges', '--renew-at', '0.5', '--lifetime-seconds', '3600'];
    expect(await runCli(args, run.io)).toBe(0);
    expect(run.calls).toEqual([
      {
        method: 'POST',
        path: '/api/policies/fridges/renewal',
        body: { renewAtShare: 0.5, certificateLifetimeSeconds: 3600 },
      },
    ]);
    const refused = cli();
    expect(await runCli(['policies', 'renewal', 'fridges', '--renew-at', '1.5'], refused.io)).toBe(2);
    expect(refused.calls).toEqual([]);
  });
});
