import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import {
  policyDecider,
  type DefineServerPolicyCommand,
  type ServerPolicy,
  type SetIntegrityPolicyCommand,
  type SetRenewalPolicyCommand,
} from './policy.decider.js';

const metadata = { commandId: 'cmd-1', now: '2026-01-01T00:00:00.000Z' };
const policy: ServerPolicy = {
  policyId: 'fridges',
  name: 'Fridges on the EU broker',
  targetIds: ['mosquitto-eu'],
  topicRights: [{ topic: 'fridges/{deviceId}/#', access: 'publish-subscribe' }],
  certificateLifetimeDays: 365,
  ownerId: 'acme',
};
const define = (data: ServerPolicy): DefineServerPolicyCommand => ({ type: 'DefineServerPolicy', data, metadata });
const defined = (data: ServerPolicy) => ({ type: 'ServerPolicyDefined', version: 2, data });
const spec = deciderSpecification(policyDecider, { aggregateId: policy.policyId });

describe('server policy decider', () => {
  describe('when undefined', () => {
    it('defines the policy', () =>
      spec
        .given([])
        .when(define(policy))
        .then([defined(policy)]));
  });

  describe('when defined', () => {
    it('treats the same definition (keys in any order) as a retry', () => {
      const reordered = {
        certificateLifetimeDays: 365,
        topicRights: policy.topicRights,
        targetIds: policy.targetIds,
        name: policy.name,
        policyId: policy.policyId,
        ownerId: policy.ownerId,
      };
      spec
        .given([defined(policy)])
        .when(define(reordered))
        .thenNothingHappened();
    });

    it('refuses another definition under the same id with CONFLICT', () => {
      spec
        .given([defined(policy)])
        .when(define({ ...policy, certificateLifetimeDays: 30 }))
        .thenThrows((error) => error instanceof CommandRejected && error.reason === 'CONFLICT');
    });

    it("refuses another owner's identical definition under the same id with CONFLICT (no owner takes another's policy)", () => {
      spec
        .given([defined(policy)])
        .when(define({ ...policy, ownerId: 'globex' }))
        .thenThrows((error) => error instanceof CommandRejected && error.reason === 'CONFLICT');
    });
  });

  describe('when defined by a v1 event (before owners)', () => {
    const { ownerId: _owner, ...withoutOwner } = policy;
    const definedV1 = { type: 'ServerPolicyDefined', version: 1, data: withoutOwner } as unknown as ReturnType<
      typeof defined
    >;

    it('belongs to the default owner: its definition again is a retry', () =>
      spec
        .given([definedV1])
        .when(define({ ...policy, ownerId: 'default' }))
        .thenNothingHappened());

    it("is refused to a named owner's definition (CONFLICT)", () =>
      spec
        .given([definedV1])
        .when(define(policy))
        .thenThrows((error) => error instanceof CommandRejected && error.reason === 'CONFLICT'));
  });
});

describe('server policy renewal settings', () => {
  const set = (data: SetRenewalPolicyCommand['data']): SetRenewalPolicyCommand => ({
    type: 'SetRenewalPolicy',
    data,
    metadata,
  });
  const renewal = (data: Record<string, unknown>) => ({ type: 'RenewalPolicyDefined', version: 1, data });

  describe('when undefined', () => {
    it('refuses: there is no policy to renew under', () =>
      spec
        .given([])
        .when(set({ policyId: 'fridges' }))
        .thenThrows((error) => error instanceof CommandRejected && error.reason === 'NOT_FOUND'));
  });

  describe('when defined', () => {
    it('records the defaults (renew at two thirds, 10 % jitter) when none are given', () =>
      spec
        .given([defined(policy)])
        .when(set({ policyId: 'fridges' }))
        .then([renewal({ policyId: 'fridges', renewAtShare: 2 / 3, jitterShare: 0.1 })]));
    it('records short-lived certificates (one hour) as a policy choice', () =>
      spec
        .given([defined(policy)])
        .when(set({ policyId: 'fridges', renewAtShare: 0.5, jitterShare: 0.2, certificateLifetimeSeconds: 3600 }))
        .then([
          renewal({ policyId: 'fridges', renewAtShare: 0.5, jitterShare: 0.2, certificateLifetimeSeconds: 3600 }),
        ]));
    it('treats the settings in force as a retry', () =>
      spec
        .given([defined(policy), renewal({ policyId: 'fridges', renewAtShare: 2 / 3, jitterShare: 0.1 })])
        .when(set({ policyId: 'fridges' }))
        .thenNothingHappened());
  });
});

describe('server policy integrity monitoring', () => {
  const set = (data: SetIntegrityPolicyCommand['data']): SetIntegrityPolicyCommand => ({
    type: 'SetIntegrityPolicy',
    data,
    metadata,
  });
  const integrity = (data: Record<string, unknown>) => ({ type: 'IntegrityPolicyDefined', version: 1, data });
  const defaults = { policyId: 'fridges', heartbeatPeriodSeconds: 60, missedPeriods: 1.5, action: 'alert' };

  describe('when undefined', () => {
    it('refuses: there is no policy to monitor under', () =>
      spec
        .given([])
        .when(set({ policyId: 'fridges', action: 'quarantine' }))
        .thenThrows((error) => error instanceof CommandRejected && error.reason === 'NOT_FOUND'));
  });

  describe('when defined', () => {
    it('records the defaults (a heartbeat a minute, 1.5 periods of silence, alert only)', () =>
      spec
        .given([defined(policy)])
        .when(set({ policyId: 'fridges' }))
        .then([integrity(defaults)]));
    it('records a quarantine policy with a 10 s period', () =>
      spec
        .given([defined(policy)])
        .when(set({ policyId: 'fridges', heartbeatPeriodSeconds: 10, action: 'quarantine' }))
        .then([integrity({ ...defaults, heartbeatPeriodSeconds: 10, action: 'quarantine' })]));
    it('treats the settings in force as a retry', () =>
      spec
        .given([defined(policy), integrity(defaults)])
        .when(set({ policyId: 'fridges' }))
        .thenNothingHappened());
  });
});
