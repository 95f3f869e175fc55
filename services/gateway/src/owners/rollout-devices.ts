import { randomUUID } from 'node:crypto';
import { defaultOwnerId, type DescribeRollout, type ResultOf } from '@tunnelkey/contracts';
import type { Principal } from '../auth/roles.js';
import type { CommandSender } from '../commands/command-sender.js';
import { otaCommandRoutes } from '../commands/ota-routes.js';

/** The gateway asking on its own behalf (recorded as the actor of the read it sends). */
const gateway: Principal = {
  tokenId: 'gateway',
  name: 'gateway',
  role: 'viewer',
  ownerId: defaultOwnerId,
  allOwners: true,
};

/**
 * A rollout's devices, from the OTA service (DescribeRollout): whose the rollout is. Undefined for a
 * rollout the service does not know; any other failure (the service not answering) is thrown, and
 * the request fails rather than being let through.
 */
export function rolloutDevicesVia(sender: CommandSender) {
  const route = otaCommandRoutes.DescribeRollout;
  return async (rolloutId: string): Promise<string[] | undefined> => {
    const context = { principal: gateway, correlationId: randomUUID() };
    const payload = sender.payloadOf(route.command, {}, { rolloutId }, sender.commandIdOf(context), context);
    try {
      const progress = await sender.send<ResultOf<typeof DescribeRollout>>(route, payload, context);
      return progress.devices.map((device) => device.deviceId);
    } catch (error) {
      // A rejection's reason travels as the reply's code.
      if ((error as { code?: string }).code === 'unknown-rollout') return undefined;
      throw error;
    }
  };
}
