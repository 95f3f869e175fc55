/**
 * One CertifyDevices command's devices (`ca.certification.<commandId>`): recorded before the
 * command is answered, so the devices the window has not asked yet are owed a CSR request in the
 * log. A device is recorded once per command, whatever the order a retried command lists it in.
 */
import { createHash } from 'node:crypto';
import { CsrRequestsQueued, type DataOf, type EventOf } from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

/**
 * The requestId a CertifyDevices command gives one device. Not a command id: it travels in the
 * device protocol as an aggregate id ([A-Za-z0-9_-], no `:`), hence a digest.
 */
export const certificationRequestId = (commandId: string, deviceId: string): string =>
  `r-${createHash('sha256').update(['certify', commandId, deviceId].join('\u0000')).digest('hex').slice(0, 32)}`;

export type CsrRequestsQueuedData = DataOf<typeof CsrRequestsQueued>;

export type CertificationEvent = EventOf<typeof CsrRequestsQueued>;

export type CertificationCommand = Command<'QueueCsrRequests', CsrRequestsQueuedData>;

export interface CertificationState {
  queued: ReadonlySet<string>;
}

/** Devices per CsrRequestsQueued (its contract's bound). */
export const devicesPerQueuedEvent = 1_000;

export const certificationStream = (commandId: string) => ({
  context: 'ca' as const,
  aggregate: 'certification',
  id: commandId,
});

export const certificationDecider: Decider<CertificationCommand, CertificationEvent, CertificationState> = {
  initialState: () => ({ queued: new Set() }),

  decide(command, state): NewEvent<CertificationEvent>[] {
    switch (command.type) {
      case 'QueueCsrRequests': {
        const deviceIds = [...new Set(command.data.deviceIds)].filter((deviceId) => !state.queued.has(deviceId));
        if (deviceIds.length === 0) return [];
        if (deviceIds.length > devicesPerQueuedEvent)
          throw new CommandRejected('too-many-devices', `at most ${devicesPerQueuedEvent} devices per record`, {
            devices: deviceIds.length,
          });
        return [{ type: 'CsrRequestsQueued', version: 1, data: { ...command.data, deviceIds } }];
      }
      default: {
        const unknown: never = command.type;
        throw new CommandRejected('unknown-command', `unknown command ${String(unknown)}`);
      }
    }
  },

  evolve(state, event): CertificationState {
    switch (event.type) {
      case 'CsrRequestsQueued':
        return { queued: new Set([...state.queued, ...event.data.deviceIds]) };
      default:
        return state;
    }
  },
};
