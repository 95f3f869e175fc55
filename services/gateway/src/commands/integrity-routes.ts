import {
  DescribeDeviceIntegrity,
  ListIntegrityAlerts,
  ReleaseQuarantine,
  SetIntegrityPolicy,
} from '@tunnelkey/contracts';
import type { CommandRoute } from './command-routes.js';

/** Integrity monitoring's routes (issue 17), part of `commandRoutes`: the controller, OpenAPI and the CLI read them. */
export const integrityCommandRoutes = {
  SetIntegrityPolicy: {
    command: SetIntegrityPolicy,
    path: '/api/policies/{policyId}/integrity',
    role: 'admin',
    status: 200,
    timeoutMs: 15_000,
    description:
      "The policy's devices send a signed heartbeat every `heartbeatPeriodSeconds` (default 60) with their boot " +
      'measurement; a measurement other than the installed (or enrolled) one, a counter going back, or silence longer ' +
      'than `missedPeriods` periods (default 1.5) is a violation, and `action` says what it does: `alert` (default), ' +
      '`quarantine` (at the brokers, within a second: the device may only publish to tunnelkey/quarantine/<id>) or ' +
      '`revoke`. 404 for an unknown policy.',
  },
  ReleaseQuarantine: {
    command: ReleaseQuarantine,
    path: '/api/devices/{deviceId}/quarantine/release',
    role: 'operator',
    status: 200,
    timeoutMs: 15_000,
    description:
      'Lifts a quarantine: the brokers give the device its policy rights back (its session is kept). `released: false` ' +
      'when it was not quarantined (nothing written); 404 for an unknown device.',
  },
  ListIntegrityAlerts: {
    command: ListIntegrityAlerts,
    path: '/api/integrity/alerts',
    role: 'viewer',
    status: 200,
    timeoutMs: 15_000,
    description: 'The newest integrity violations (default 100, at most 1,000), newest first.',
  },
  DescribeDeviceIntegrity: {
    command: DescribeDeviceIntegrity,
    path: '/api/devices/{deviceId}/integrity',
    role: 'viewer',
    status: 200,
    timeoutMs: 15_000,
    description:
      "One device's integrity timeline: quarantined or not, the measurement expected of it, its policy, the last " +
      'heartbeat, its violations and what happened when. 404 for an unknown device.',
  },
} as const satisfies Record<string, CommandRoute>;
