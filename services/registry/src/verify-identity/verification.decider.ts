/**
 * One VerifyIdentity command's devices (`registry.verification.<commandId>`): recorded before the
 * command is answered, so the devices the window has not challenged yet are owed a challenge in
 * the log. A device is recorded once per command, whatever the order a retried command lists it in.
 */
import { IdentityChallengesQueued, type DataOf, type EventOf } from '@tunnelkey/contracts';
import { queuedDevicesDecider, type Command, type QueuedDevicesState } from '@tunnelkey/eventstore';

export type IdentityChallengesQueuedData = DataOf<typeof IdentityChallengesQueued>;

export type VerificationEvent = EventOf<typeof IdentityChallengesQueued>;

export type VerificationCommand = Command<'QueueIdentityChallenges', IdentityChallengesQueuedData>;

export type VerificationState = QueuedDevicesState;

/** Devices per IdentityChallengesQueued (its contract's bound). */
export const devicesPerQueuedEvent = 1_000;

export const verificationStream = (commandId: string) => ({
  context: 'registry' as const,
  aggregate: 'verification',
  id: commandId,
});

export const verificationDecider = queuedDevicesDecider<'QueueIdentityChallenges', VerificationEvent>(
  'QueueIdentityChallenges',
  IdentityChallengesQueued,
  devicesPerQueuedEvent,
);
