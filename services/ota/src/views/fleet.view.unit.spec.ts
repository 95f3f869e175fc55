import {
  DeviceFirmwareKeysRecorded,
  DeviceIdentityImported,
  OwnershipTransferCompleted,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { firmwareKeysOf, foldFleet, ineligibility, type FleetState } from './fleet.view.js';

const event = (type: string, version: number, data: object) => ({ type, version, data }) as unknown as EventEnvelope;
const imported = event(DeviceIdentityImported.type, 1, {
  deviceId: 'd-1',
  batchId: 'b-acme',
  enrolmentPublicKey: 'AAAA',
});
const keys = (ownerEpoch: number | undefined, key: string) =>
  event(DeviceFirmwareKeysRecorded.type, ownerEpoch === undefined ? 1 : 2, {
    deviceId: 'd-1',
    ecdhPublicKey: key,
    mlKemPublicKey: key,
    attestation: 'CCCC',
    ...(ownerEpoch === undefined ? {} : { ownerEpoch }),
  });
const transferred = (ownerEpoch: number) =>
  event(OwnershipTransferCompleted.type, 2, {
    deviceId: 'd-1',
    transferId: `t-${ownerEpoch}`,
    ownerId: 'globex',
    ownerEpoch,
    batchId: 'b-globex',
  });
const fold = (...events: EventEnvelope[]): FleetState => {
  const state: FleetState = { devices: new Map(), batches: new Map() };
  for (const e of events) foldFleet(state, e);
  return state;
};

describe('OTA fleet view: firmware keys per owner epoch', () => {
  test("a transfer drops the earlier epoch's keys: the device has none until it reports its new epoch's", () => {
    const state = fold(imported, keys(0, 'OLD0'), transferred(1));
    const device = state.devices.get('d-1')!;
    expect(device).toMatchObject({ ownerEpoch: 1, batchId: 'b-globex', certified: false });
    expect(device.keys).toBeUndefined();
    expect(state.batches.get('b-acme')).toEqual([]);
    expect(state.batches.get('b-globex')).toEqual(['d-1']);
    device.certified = true;
    expect(ineligibility(device)).toBe('no-firmware-keys');
    foldFleet(state, keys(1, 'NEW1'));
    expect(firmwareKeysOf(device)).toEqual({ ecdhPublicKey: 'NEW1', mlKemPublicKey: 'NEW1', ownerEpoch: 1 });
    expect(ineligibility(device)).toBeUndefined();
  });

  test("keys of an earlier epoch folded after the transfer are ignored; a v1 (before epochs) is epoch 0's", () => {
    const state = fold(imported, keys(undefined, 'V1'));
    expect(state.devices.get('d-1')?.keys).toEqual({ ecdhPublicKey: 'V1', mlKemPublicKey: 'V1', ownerEpoch: 0 });
    foldFleet(state, transferred(1));
    foldFleet(state, keys(0, 'OLD0'));
    expect(state.devices.get('d-1')?.keys).toBeUndefined();
  });

  test("the new epoch's keys folded before the transfer that led to it are kept (sources interleave on replay)", () => {
    const state = fold(imported, keys(1, 'NEW1'));
    // Not yet usable: the device is still in epoch 0 as far as the view knows.
    expect(firmwareKeysOf(state.devices.get('d-1')!)).toBeUndefined();
    foldFleet(state, transferred(1));
    expect(firmwareKeysOf(state.devices.get('d-1')!)).toMatchObject({ ecdhPublicKey: 'NEW1', ownerEpoch: 1 });
    // The same transfer folded again moves nothing.
    foldFleet(state, transferred(1));
    expect(state.batches.get('b-globex')).toEqual(['d-1']);
  });
});
