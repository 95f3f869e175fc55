/**
 * One command's devices (`<context>.<aggregate>.<commandId>`), recorded before the command is
 * answered, so the devices a window has not reached yet are owed their step in the log (a CSR
 * request, a challenge). A device is recorded once per command, whatever the order a retried
 * command lists it in; one record holds at most `maxPerEvent` devices (its contract's bound).
 */
import type { EventEnvelope } from '@tunnelkey/contracts';
import type { Command, Decider, NewEvent } from './decider.js';
import { CommandRejected } from './errors.js';

export interface QueuedDevicesState {
  queued: ReadonlySet<string>;
}

/** `commandType` records `event` with the devices of the command not recorded yet (nothing when none is new). */
export function queuedDevicesDecider<C extends string, E extends EventEnvelope<string, { deviceIds: string[] }>>(
  commandType: C,
  event: { type: E['type']; version: number },
  maxPerEvent: number,
): Decider<Command<C, E['data']>, E, QueuedDevicesState> {
  return {
    initialState: () => ({ queued: new Set() }),

    decide(command, state): NewEvent<E>[] {
      if (command.type !== commandType)
        throw new CommandRejected('unknown-command', `unknown command ${String(command.type)}`);
      const deviceIds = [...new Set(command.data.deviceIds)].filter((deviceId) => !state.queued.has(deviceId));
      if (deviceIds.length === 0) return [];
      if (deviceIds.length > maxPerEvent)
        throw new CommandRejected('too-many-devices', `at most ${maxPerEvent} devices per record`, {
          devices: deviceIds.length,
        });
      return [{ type: event.type, version: event.version, data: { ...command.data, deviceIds } }];
    },

    evolve(state, recorded): QueuedDevicesState {
      if (recorded.type !== event.type) return state;
      // A copy (the state before stays as it was), grown in place: no array of every id on the way.
      const queued = new Set(state.queued);
      for (const deviceId of recorded.data.deviceIds) queued.add(deviceId);
      return { queued };
    },
  };
}
