/** The TargetConnector of Mosquitto brokers: dynamic security with the admin credentials, the broker's agent for its files. */
import type { Logger } from 'pino';
import type { TargetAddress, TargetAdminCredentials, TargetConnector } from '../target-port/onboarding-target.js';
import { MosquittoTarget, type BrokerAgentLink } from './mosquitto-target.js';

export interface MosquittoConnectorOptions {
  /** The agent of a target's broker (over NATS: `new BrokerAgentClient(nats, targetId)`). */
  agentOf: (targetId: string) => BrokerAgentLink;
  clock?: () => Date;
  /** Where a broker whose default ACL access had to be set to deny is recorded. */
  logger?: Pick<Logger, 'warn'>;
}

export function mosquittoConnector(options: MosquittoConnectorOptions): TargetConnector {
  return {
    connect(address: TargetAddress, credentials: TargetAdminCredentials) {
      return MosquittoTarget.connect({
        targetId: address.targetId,
        host: address.host,
        tlsPort: address.tlsPort,
        admin: {
          ...(credentials.host ? { host: credentials.host } : {}),
          port: credentials.port ?? address.tlsPort,
          username: credentials.username,
          password: credentials.password,
          ...(credentials.tls ? { tls: credentials.tls } : {}),
        },
        agent: options.agentOf(address.targetId),
        ...(options.clock ? { clock: options.clock } : {}),
        onDefaultAccessDenied: (wasAllowed) =>
          options.logger?.warn(
            { event: 'onboarding.target_default_acl_denied', targetId: address.targetId, wasAllowed },
            'the broker allowed publishing or subscribing by default: set to deny',
          ),
      });
    },
  };
}
