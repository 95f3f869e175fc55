/**
 * The CLI's integrity monitoring commands (issue 17):
 *   tunnelkey integrity policy <policyId> [--period <seconds>] [--missed <periods>] [--action alert|quarantine|revoke]
 *   tunnelkey integrity alerts [--limit <n>]
 *   tunnelkey integrity device <deviceId>
 *   tunnelkey integrity release <deviceId> [--note <text>]
 */
import type { DescribeDeviceIntegrity, ListIntegrityAlerts, ResultOf } from '@tunnelkey/contracts';
import { exitCodes, type CliError } from './gateway-client.js';
import { keyValues, table } from './output.js';

export const integrityUsage = `  tunnelkey integrity policy <policyId> [--period <seconds>] [--missed <periods>] [--action alert|quarantine|revoke]
  tunnelkey integrity alerts [--limit <n>]
  tunnelkey integrity device <deviceId>
  tunnelkey integrity release <deviceId> [--note <text>]
`;

export interface IntegrityCliContext {
  values: { period?: string; missed?: string; action?: string; limit?: string; note?: string };
  positionals: string[];
  command: (path: string, body: unknown) => Promise<{ commandId: string; result: unknown }>;
  print: (value: unknown, human: () => string) => void;
  usageError: (message: string) => CliError;
}

const actions = ['alert', 'quarantine', 'revoke'];
const alertColumns = ['detectedAt', 'deviceId', 'kind', 'action', 'counter', 'observedMeasurement'];

export async function runIntegrityCli(verb: string | undefined, ctx: IntegrityCliContext): Promise<number> {
  const { values, positionals, command, print } = ctx;
  const id = (what: string) => {
    const value = positionals[2];
    if (!value) throw ctx.usageError(`integrity ${verb} <${what}>`);
    return encodeURIComponent(value);
  };
  const number = (value: string | undefined, name: string) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || value.trim() === '') throw ctx.usageError(`--${name} must be a number`);
    return n;
  };
  switch (verb) {
    case 'policy': {
      const policyId = id('policyId');
      if (values.action !== undefined && !actions.includes(values.action))
        throw ctx.usageError(`--action must be one of ${actions.join(', ')}`);
      const heartbeatPeriodSeconds = number(values.period, 'period');
      const missedPeriods = number(values.missed, 'missed');
      const outcome = await command(`/api/policies/${policyId}/integrity`, {
        ...(heartbeatPeriodSeconds === undefined ? {} : { heartbeatPeriodSeconds }),
        ...(missedPeriods === undefined ? {} : { missedPeriods }),
        ...(values.action ? { action: values.action } : {}),
      });
      print(outcome, () => `policy ${decodeURIComponent(policyId)}: integrity monitoring recorded`);
      return exitCodes.ok;
    }
    case 'alerts': {
      const limit = number(values.limit, 'limit');
      const outcome = await command('/api/integrity/alerts', limit === undefined ? {} : { limit });
      const { alerts } = outcome.result as ResultOf<typeof ListIntegrityAlerts>;
      print(
        outcome,
        () => `${table(alerts as unknown as Record<string, unknown>[], alertColumns)}\n${alerts.length} alerts`,
      );
      return exitCodes.ok;
    }
    case 'device': {
      const outcome = await command(`/api/devices/${id('deviceId')}/integrity`, {});
      const d = outcome.result as ResultOf<typeof DescribeDeviceIntegrity>;
      print(outcome, () => {
        const head = keyValues({
          deviceId: d.deviceId,
          quarantined: d.quarantined ? 'yes' : 'no',
          expectedMeasurement: d.expectedMeasurement ?? '(none)',
          policy: `${d.policy.policyId}: heartbeat every ${d.policy.heartbeatPeriodSeconds} s, silence after ${d.policy.missedPeriods} periods, ${d.policy.action}`,
          lastHeartbeat: d.lastHeartbeat ? `#${d.lastHeartbeat.counter} sent ${d.lastHeartbeat.sentAt}` : '(none seen)',
        });
        return `${head}\n${table(d.timeline as unknown as Record<string, unknown>[], ['at', 'type', 'detail'])}`;
      });
      return exitCodes.ok;
    }
    case 'release': {
      const deviceId = id('deviceId');
      const outcome = await command(
        `/api/devices/${deviceId}/quarantine/release`,
        values.note ? { note: values.note } : {},
      );
      const { released } = outcome.result as { released: boolean };
      print(outcome, () =>
        released
          ? `device ${decodeURIComponent(deviceId)} released from quarantine`
          : `device ${decodeURIComponent(deviceId)} was not quarantined: nothing to release`,
      );
      return exitCodes.ok;
    }
    default:
      throw ctx.usageError('integrity policy|alerts|device|release');
  }
}
