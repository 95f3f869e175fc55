import { decodeViewCheckpoint, encodeViewCheckpoint, viewCheckpointFormat } from './view-checkpoints.js';

describe('view checkpoint encoding', () => {
  it('keeps Maps, Sets, nested ones and plain data, with the positions', () => {
    const state = {
      devices: new Map([['d-1', { status: 'Verified', batches: new Set(['b-1']), tags: ['a'] }]]),
      byBatch: new Map([['b-1', new Map([['d-1', 3]])]]),
      empty: new Set<string>(),
      count: 2,
    };
    const decoded = decodeViewCheckpoint<typeof state>(
      3,
      encodeViewCheckpoint(3, { state, positions: { registry: 42 } }),
    );
    expect(decoded).toEqual({ checkpoint: { state, positions: { registry: 42 } } });
    if (!('checkpoint' in decoded)) throw new Error('ignored');
    expect(decoded.checkpoint.state.devices.get('d-1')!.batches).toBeInstanceOf(Set);
  });

  it('ignores a checkpoint of another view version or another format, and one it cannot read', () => {
    const data = encodeViewCheckpoint(1, { state: { n: 1 }, positions: { ca: 1 } });
    expect(decodeViewCheckpoint(2, data)).toEqual({ ignored: 'checkpoint version 1, view version 2' });
    const otherFormat = Buffer.from(
      Buffer.from(data).toString('utf8').replace(`"format":${viewCheckpointFormat}`, '"format":99'),
    );
    expect(decodeViewCheckpoint(1, otherFormat)).toEqual({ ignored: 'checkpoint format 99' });
    expect(decodeViewCheckpoint(1, data.subarray(0, data.byteLength - 3))).toEqual({
      ignored: 'unreadable checkpoint',
    });
    expect(decodeViewCheckpoint(1, Buffer.from('{"state":1}'))).toEqual({ ignored: 'unrecognised checkpoint' });
  });

  it('refuses a state it would not restore as it was (a class instance, bytes)', () => {
    class Device {
      constructor(readonly id: string) {}
    }
    expect(() => encodeViewCheckpoint(1, { state: { d: new Device('d-1') }, positions: {} })).toThrow(TypeError);
    expect(() => encodeViewCheckpoint(1, { state: { key: new Uint8Array(2) }, positions: {} })).toThrow(TypeError);
  });
});
