/**
 * The registry's last step of a revocation, on the device aggregate: the device decider's state and
 * `evolve`, another `decide`. Revoked is final: no import, verification or certificate afterwards.
 */
import { DeviceRevoked, type DataOf } from '@tunnelkey/contracts';
import type { Command, Decider } from '@tunnelkey/eventstore';
import { decided } from '../deciders/decided.js';
import { deviceDecider, type DeviceEvent } from '../deciders/device.decider.js';
import type { DeviceState } from '../deciders/device-state.js';
import { refused } from '../shared/registry-errors.js';

export type RevokeDeviceCommand = Command<'RevokeDevice', DataOf<typeof DeviceRevoked>>;

export const revokeDeviceDecider: Decider<RevokeDeviceCommand, DeviceEvent, DeviceState> = {
  initialState: deviceDecider.initialState,
  evolve: deviceDecider.evolve,
  decide(command, state) {
    switch (command.type) {
      case 'RevokeDevice': {
        const { deviceId } = command.data;
        if (state.status === 'Unknown') throw refused('unknown-device', `device ${deviceId} is unknown`, { deviceId });
        // Already revoked (by this revocation or an earlier one): the first reason and date stay.
        if (state.status === 'Revoked') return [];
        return [decided(DeviceRevoked, command.data)];
      }
      default: {
        const unknown: never = command.type;
        throw new TypeError(`unknown command ${String(unknown)}`);
      }
    }
  },
};
