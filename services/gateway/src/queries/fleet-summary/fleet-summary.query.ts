import type { ProjectionStore } from '@tunnelkey/projection-store';
import { devicesCollection, fleetProjectionName } from '../../views/fleet.view.js';
import { deviceStates, milestoneFlags, stateOf, type DeviceStateName } from '../../views/fleet-documents.js';

/** The whole fleet in numbers: what the console's dashboard draws. */
export interface FleetCounts {
  devices: number;
  /** Devices per state (the highest milestone each reached). */
  counts: Record<DeviceStateName, number>;
  connected: number;
  /** Devices that were ever certified, whatever they reached since (onboarded, revoked...). */
  certified: number;
  revoked: number;
}

/** Counted from the devices on declared indexes (one group-by), never kept as counters. */
export async function fleetCounts(store: ProjectionStore): Promise<FleetCounts> {
  const groups = await store.countBy(fleetProjectionName, devicesCollection, { by: [...milestoneFlags, 'connection'] });
  const fleet: FleetCounts = {
    devices: 0,
    counts: Object.fromEntries(deviceStates.map((s) => [s, 0])) as FleetCounts['counts'],
    connected: 0,
    certified: 0,
    revoked: 0,
  };
  for (const { key, count } of groups) {
    fleet.devices += count;
    fleet.counts[stateOf(key)] += count;
    if (key.connection === 'connected') fleet.connected += count;
    if (key.reachedCertified === true) fleet.certified += count;
    if (key.reachedRevoked === true) fleet.revoked += count;
  }
  return fleet;
}
