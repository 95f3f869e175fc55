/**
 * The subjects of one broker's agent, for the agent and its clients alike. A namespace isolates a
 * deployment or a test, as for commands (`<namespace>.broker-agent.<brokerId>...`).
 */
import { aggregateIdPattern, UnsafeSubjectToken } from '@tunnelkey/contracts';

export interface BrokerAgentSubjects {
  /** Request/reply: BrokerTrustFiles in, ApplyTrustReply out. */
  applyTrust: string;
  /** What the agent publishes: one BrokerConnectionFact per message, and every few seconds a BrokerConnectionsReport. */
  connections: string;
}

/** A broker is the onboarding target it serves: its id is the target's. */
const brokerIdPattern = new RegExp(aggregateIdPattern);

export function brokerAgentSubjects(brokerId: string, namespace = ''): BrokerAgentSubjects {
  if (!brokerIdPattern.test(brokerId)) throw new UnsafeSubjectToken('broker id', brokerIdPattern.source);
  const base = `${namespace ? `${namespace}.` : ''}broker-agent.${brokerId}`;
  return { applyTrust: `${base}.apply-trust`, connections: `${base}.connections` };
}
