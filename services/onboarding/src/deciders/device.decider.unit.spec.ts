import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { deviceDecider, type DeviceCommand } from './device.decider.js';

const metadata = { commandId: 'c-1', now: '2026-01-01T00:00:00.000Z' };
const t = '2026-01-01T00:00:01.000Z';
const onboarding = {
  deviceId: 'd-1',
  targetId: 'broker-1',
  batchId: 'b-1',
  policyId: 'p-1',
  clientId: 'd-1',
  roleName: 'role-d-1',
  topicPrefix: 'devices/d-1',
};
const onboarded = { type: 'DeviceOnboarded', version: 1, data: onboarding };
const connection = {
  deviceId: 'd-1',
  targetId: 'broker-1',
  clientId: 'd-1',
  connectedAt: t,
  tlsProtocol: 'unknown' as const,
  cipher: 'unknown',
};
const connected = { type: 'DeviceConnected', version: 2, data: connection };
const disconnection = {
  deviceId: 'd-1',
  targetId: 'broker-1',
  clientId: 'd-1',
  disconnectedAt: t,
  reason: 'client-disabled' as const,
};
const telemetry = (kind: 'first' | 'periodic', messagesTotal: number) => ({
  deviceId: 'd-1',
  targetId: 'broker-1',
  kind,
  messagesTotal,
  bytesTotal: messagesTotal * 10,
  messagesInWindow: 1,
  windowStart: t,
  firstMessageAt: t,
  lastMessageAt: t,
  lastTopic: 'devices/d-1/telemetry',
});
const revoked = {
  type: 'DeviceDeprovisioned',
  version: 1,
  data: { deviceId: 'd-1', targetId: 'broker-1', reason: 'revoked' as const, revocationId: 'rv-1' },
};
const command = <T extends DeviceCommand['type']>(type: T, data: Extract<DeviceCommand, { type: T }>['data']) =>
  ({ type, data, metadata }) as DeviceCommand;
const spec = deciderSpecification(deviceDecider);

describe('device onboarding decider', () => {
  describe('when not onboarded to the target', () => {
    test('RecordOnboarded onboards it', () => {
      spec.given([]).when(command('RecordOnboarded', onboarding)).then([onboarded]);
    });
    test("the target's observations of it decide nothing", () => {
      spec.given([]).when(command('RecordConnected', connection)).thenNothingHappened();
      spec
        .given([])
        .when(command('RecordTelemetry', telemetry('first', 1)))
        .thenNothingHappened();
      spec.given([]).when(command('RecordDeprovisioned', revoked.data)).thenNothingHappened();
    });
    test('a failure is recorded', () => {
      const failure = { deviceId: 'd-1', targetId: 'broker-1', reason: 'device-not-certified' as const };
      spec
        .given([])
        .when(command('RecordOnboardingFailed', failure))
        .then([{ type: 'DeviceOnboardingFailed', version: 1, data: failure }]);
    });
  });

  describe('when onboarded', () => {
    test('onboarding again the same way changes nothing; another policy is recorded', () => {
      spec.given([onboarded]).when(command('RecordOnboarded', onboarding)).thenNothingHappened();
      spec
        .given([onboarded])
        .when(command('RecordOnboarded', { ...onboarding, policyId: 'p-2' }))
        .then([{ ...onboarded, data: { ...onboarding, policyId: 'p-2' } }]);
    });
    test('connections and disconnections are recorded; a disconnection without a connection is not', () => {
      spec.given([onboarded]).when(command('RecordConnected', connection)).then([connected]);
      spec
        .given([onboarded, connected])
        .when(command('RecordDisconnected', disconnection))
        .then([{ type: 'DeviceDisconnected', version: 1, data: disconnection }]);
      spec.given([onboarded]).when(command('RecordDisconnected', disconnection)).thenNothingHappened();
    });
    test('the first telemetry is recorded as first, once; totals never go back', () => {
      spec
        .given([onboarded])
        .when(command('RecordTelemetry', telemetry('first', 1)))
        .then([{ type: 'TelemetryReceived', version: 1, data: telemetry('first', 1) }]);
      const afterFirst = [onboarded, { type: 'TelemetryReceived', version: 1, data: telemetry('first', 1) }];
      spec
        .given(afterFirst)
        .when(command('RecordTelemetry', telemetry('first', 5)))
        .then([{ type: 'TelemetryReceived', version: 1, data: telemetry('periodic', 5) }]);
      spec
        .given(afterFirst)
        .when(command('RecordTelemetry', telemetry('periodic', 1)))
        .thenNothingHappened();
    });
  });

  describe('when deprovisioned because revoked', () => {
    test('it is never onboarded again', () => {
      spec
        .given([onboarded, revoked])
        .when(command('RecordOnboarded', onboarding))
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'device-revoked');
    });
    test('it is onboarded to no other target either', () => {
      spec
        .given([onboarded, revoked])
        .when(command('RecordOnboarded', { ...onboarding, targetId: 'broker-2' }))
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'device-revoked');
    });
    test('the session the target drops afterwards is still recorded', () => {
      spec
        .given([onboarded, connected, revoked])
        .when(command('RecordDisconnected', disconnection))
        .then([{ type: 'DeviceDisconnected', version: 1, data: disconnection }]);
    });
    test('deprovisioning again changes nothing', () => {
      spec.given([onboarded, revoked]).when(command('RecordDeprovisioned', revoked.data)).thenNothingHappened();
    });
  });
});
