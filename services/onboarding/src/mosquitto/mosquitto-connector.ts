/** The TargetConnector of Mosquitto brokers: dynamic security with the admin credentials, plus the broker's files. */
import type { TargetAddress, TargetAdminCredentials, TargetConnector } from '../target-port/onboarding-target.js';
import { MosquittoTarget, type MosquittoHostBinding } from './mosquitto-target.js';

export interface MosquittoConnectorOptions {
  /** The broker files and reload this service manages, per target (deployment config). */
  bindings?: (targetId: string) => MosquittoHostBinding | undefined;
  clock?: () => Date;
}

export function mosquittoConnector(options: MosquittoConnectorOptions = {}): TargetConnector {
  return {
    connect(address: TargetAddress, credentials: TargetAdminCredentials) {
      const binding = options.bindings?.(address.targetId);
      return MosquittoTarget.connect({
        targetId: address.targetId,
        host: address.host,
        tlsPort: address.tlsPort,
        admin: {
          port: credentials.port ?? address.tlsPort,
          username: credentials.username,
          password: credentials.password,
        },
        ...(binding ? { binding } : {}),
        ...(options.clock ? { clock: options.clock } : {}),
      });
    },
  };
}
