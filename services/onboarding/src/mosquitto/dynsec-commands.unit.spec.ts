import { disableDeviceCommands, phaseOrder } from './dynsec-commands.js';

describe('dynsec command planning', () => {
  it('disables (drops the session) before it removes the rights', () => {
    expect(disableDeviceCommands('d-1').map((c) => c.command)).toEqual(['disableClient', 'removeClientRole']);
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
});
