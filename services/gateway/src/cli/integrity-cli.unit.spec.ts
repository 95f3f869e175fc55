import { runCli, type CliIo } from './run-cli.js';

// Issue 17 at the CLI: the policy's integrity settings, the alert list, a device's timeline, a release.
interface Call {
  path: string;
  body: unknown;
}

function cli(answer: (call: Call) => unknown) {
  const calls: Call[] = [];
  let out = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: () => true },
    env: { TUNNELKEY_URL: 'http://gateway.test', TUNNELKEY_TOKEN: 'tk_test' },
    pollMs: 1,
    fetch: (async (input: URL | string, init?: RequestInit) => {
      const url = new URL(String(input));
      const call = { path: url.pathname, body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined };
      calls.push(call);
      return new Response(JSON.stringify(answer(call)), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }) as typeof fetch,
  };
  return { io, calls, out: () => out };
}

describe('tunnelkey integrity', () => {
  it('sets a policy: period, silence allowed and action in the body', async () => {
    const { io, calls, out } = cli(() => ({ commandId: 'c', result: { policyId: 'fridges' } }));
    const args = ['integrity', 'policy', 'fridges', '--period', '10', '--missed', '2', '--action', 'quarantine'];
    expect(await runCli(args, io)).toBe(0);
    expect(calls).toEqual([
      {
        path: '/api/policies/fridges/integrity',
        body: { heartbeatPeriodSeconds: 10, missedPeriods: 2, action: 'quarantine' },
      },
    ]);
    expect(out()).toContain('integrity monitoring recorded');
  });

  it('refuses an unknown action before sending anything', async () => {
    const { io, calls } = cli(() => ({}));
    expect(await runCli(['integrity', 'policy', 'fridges', '--action', 'shrug'], io)).toBe(2);
    expect(calls).toEqual([]);
  });

  it('lists alerts and shows a device timeline', async () => {
    const alert = {
      detectedAt: '2026-01-01T00:00:01.000Z',
      deviceId: 'd-1',
      kind: 'measurement-mismatch',
      action: 'quarantine',
    };
    const { io, out } = cli((call) =>
      call.path === '/api/integrity/alerts'
        ? { commandId: 'c', result: { alerts: [alert] } }
        : {
            commandId: 'c',
            result: {
              deviceId: 'd-1',
              quarantined: true,
              policy: { policyId: 'fridges', heartbeatPeriodSeconds: 10, missedPeriods: 1.5, action: 'quarantine' },
              violations: [alert],
              timeline: [{ at: alert.detectedAt, type: 'DeviceQuarantined', detail: 'quarantined' }],
            },
          },
    );
    expect(await runCli(['integrity', 'alerts', '--limit', '5'], io)).toBe(0);
    expect(out()).toContain('measurement-mismatch');
    expect(await runCli(['integrity', 'device', 'd-1'], io)).toBe(0);
    expect(out()).toMatch(/quarantined\s+yes/);
    expect(out()).toContain('DeviceQuarantined');
  });

  it('releases a device, and says when there was nothing to release', async () => {
    const { io, calls, out } = cli(() => ({ commandId: 'c', result: { deviceId: 'd-1', released: false } }));
    expect(await runCli(['integrity', 'release', 'd-1', '--note', 're-flashed'], io)).toBe(0);
    expect(calls).toEqual([{ path: '/api/devices/d-1/quarantine/release', body: { note: 're-flashed' } }]);
    expect(out()).toContain('was not quarantined');
  });
});
