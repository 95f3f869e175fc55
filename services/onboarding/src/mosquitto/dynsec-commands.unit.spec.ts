import { TargetRefusedError } from '../errors.js';
import {
  convergeDeviceCommands,
  disableDeviceCommands,
  phaseOrder,
  planDevice,
  unsafeDefaultAccess,
} from './dynsec-commands.js';

describe('dynsec command planning', () => {
  it('disables (drops the session) before it removes the rights', () => {
    expect(disableDeviceCommands('d-1').map((c) => c.command)).toEqual(['disableClient', 'removeClientRole']);
  });

  it('only removes the rights of a device whose session was dropped already', () => {
    expect(disableDeviceCommands('d-1', { sessionDropped: true }).map((c) => c.command)).toEqual(['removeClientRole']);
  });

  it('orders a batch step by step, keeping each device its own order', () => {
    expect(phaseOrder([['a1', 'a2'], ['b1'], ['c1', 'c2', 'c3']])).toEqual([
      { device: 0, step: 0 },
      { device: 1, step: 0 },
      { device: 2, step: 0 },
      { device: 0, step: 1 },
      { device: 2, step: 1 },
      { device: 2, step: 2 },
    ]);
    expect(phaseOrder([])).toEqual([]);
  });

  it("replaces an existing role's ACLs in one command instead of adding to them", () => {
    const plan = planDevice('d-1', [{ topic: 'devices/{deviceId}/telemetry', access: 'publish' }]);
    expect(convergeDeviceCommands(plan, true, false)).toEqual([
      { command: 'modifyRole', rolename: 'role-d-1', acls: plan.acls },
    ]);
  });

  it('finds the default accesses that must be denied; an unreadable answer is refused', () => {
    const answer = (acls: { acltype: string; allow: boolean }[]) => ({
      command: 'getDefaultACLAccess',
      data: { acls },
    });
    expect(
      unsafeDefaultAccess(
        answer([
          { acltype: 'publishClientSend', allow: false },
          { acltype: 'publishClientReceive', allow: true },
          { acltype: 'subscribe', allow: false },
          { acltype: 'unsubscribe', allow: true },
        ]),
      ),
    ).toEqual([]);
    expect(unsafeDefaultAccess(answer([{ acltype: 'publishClientSend', allow: true }]))).toEqual([
      'publishClientSend',
      'subscribe',
    ]);
    expect(() => unsafeDefaultAccess({ command: 'getDefaultACLAccess', error: 'Permission denied' })).toThrow(
      TargetRefusedError,
    );
  });
});
