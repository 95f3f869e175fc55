/**
 * One VerifyIdentity command's devices (`registry.verification.<commandId>`): recorded before the
 * command is answered, so the devices the window has not challenged yet are owed a challenge in
 * the log. A device is recorded once per command, whatever the order a retried command lists it in.
 */
import { IdentityChallengesQueued, type DataOf, type EventOf } from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type IdentityChallengesQueuedData = DataOf<typeof IdentityChallengesQueued>;

export type VerificationEvent = EventOf<typeof IdentityChallengesQueued>;

export type VerificationCommand = Command<'QueueIdentityChallenges', IdentityChallengesQueuedData>;

export interface VerificationState {
  queued: ReadonlySet<string>;
}

/** Devices per IdentityChallengesQueued (its contract's bound). */
export const devicesPerQueuedEvent = 1_000;

export const verificationStream = (commandId: string) => ({
  context: 'registry' as const,
  aggregate: 'verification',
  id: commandId,
});

export const verificationDecider: Decider<VerificationCommand, VerificationEvent, VerificationState> = {
  initialState: () => ({ queued: new Set() }),

  decide(command, state): NewEvent<VerificationEvent>[] {
    switch (command.type) {
      case 'QueueIdentityChallenges': {
        const deviceIds = [...new Set(command.data.deviceIds)].filter((deviceId) => !state.queued.has(deviceId));
        if (deviceIds.length === 0) return [];
        if (deviceIds.length > devicesPerQueuedEvent)
          throw new CommandRejected('too-many-devices', `at most ${devicesPerQueuedEvent} devices per record`, {
            devices: deviceIds.length,
          });
        return [{ type: 'IdentityChallengesQueued', version: 1, data: { ...command.data, deviceIds } }];
      }
      default: {
        const unknown: never = command.type;
        throw new CommandRejected('unknown-command', `unknown command ${String(unknown)}`);
      }
    }
  },

  evolve(state, event): VerificationState {
    switch (event.type) {
      case 'IdentityChallengesQueued':
        return { queued: new Set([...state.queued, ...event.data.deviceIds]) };
      default:
        return state;
    }
  },
};
