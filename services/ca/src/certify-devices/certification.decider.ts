/**
 * One CertifyDevices command's devices (`ca.certification.<commandId>`): recorded before the
 * command is answered, so the devices the window has not asked yet are owed a CSR request in the
 * log. A device is recorded once per command, whatever the order a retried command lists it in.
 */
import { createHash } from 'node:crypto';
import { CsrRequestsQueued, type DataOf, type EventOf } from '@tunnelkey/contracts';
import { queuedDevicesDecider, type Command, type QueuedDevicesState } from '@tunnelkey/eventstore';

/**
 * The requestId a CertifyDevices command gives one device. Not a command id: it travels in the
 * device protocol as an aggregate id ([A-Za-z0-9_-], no `:`), hence a digest.
 */
export const certificationRequestId = (commandId: string, deviceId: string): string =>
  `r-${createHash('sha256').update(['certify', commandId, deviceId].join('\u0000')).digest('hex').slice(0, 32)}`;

export type CsrRequestsQueuedData = DataOf<typeof CsrRequestsQueued>;

export type CertificationEvent = EventOf<typeof CsrRequestsQueued>;

export type CertificationCommand = Command<'QueueCsrRequests', CsrRequestsQueuedData>;

export type CertificationState = QueuedDevicesState;

/** Devices per CsrRequestsQueued (its contract's bound). */
export const devicesPerQueuedEvent = 1_000;

export const certificationStream = (commandId: string) => ({
  context: 'ca' as const,
  aggregate: 'certification',
  id: commandId,
});

export const certificationDecider = queuedDevicesDecider<'QueueCsrRequests', CertificationEvent>(
  'QueueCsrRequests',
  CsrRequestsQueued,
  devicesPerQueuedEvent,
);
