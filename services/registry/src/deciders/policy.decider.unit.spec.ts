import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { policyDecider, type DefineServerPolicyCommand, type ServerPolicy } from './policy.decider.js';

const metadata = { commandId: 'cmd-1', now: '2026-01-01T00:00:00.000Z' };
const policy: ServerPolicy = {
  policyId: 'fridges',
  name: 'Fridges on the EU broker',
  targetIds: ['mosquitto-eu'],
  topicRights: [{ topic: 'fridges/{deviceId}/#', access: 'publish-subscribe' }],
  certificateLifetimeDays: 365,
};
const define = (data: ServerPolicy): DefineServerPolicyCommand => ({ type: 'DefineServerPolicy', data, metadata });
const defined = (data: ServerPolicy) => ({ type: 'ServerPolicyDefined', version: 1, data });
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
  });
});
