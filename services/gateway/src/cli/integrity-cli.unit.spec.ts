import { cliWithGatewayDouble, type GatewayCall } from '../test-support/gateway-double.test-helper.js';
import { runCli } from './run-cli.js';

// Issue 17 at the CLI: the policy's integrity settings, the alert list, a device's timeline, a release.
/** What the integrity commands send: the path and the JSON body. */
function cli(answer: (call: GatewayCall) => unknown) {
  const double = cliWithGatewayDouble(answer);
  return { ...double, calls: () => double.calls.map(({ path, body }) => ({ path, body })) };
}

describe('tunnelkey integrity', () => {
  it('sets a policy: period, silence allowed and action in the body', async () => {
    const { io, calls, out } = cli(() => ({ commandId: 'c', result: { policyId: 'fridges' } }));
    const args = ['integrity', 'policy', 'fridges', '--period', '10', '--missed', '2', '--action', 'quarantine'];
    expect(await runCli(args, io)).toBe(0);
    expect(calls()).toEqual([
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
    expect(calls()).toEqual([]);
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
    expect(calls()).toEqual([{ path: '/api/devices/d-1/quarantine/release', body: { note: 're-flashed' } }]);
    expect(out()).toContain('was not quarantined');
  });
});
