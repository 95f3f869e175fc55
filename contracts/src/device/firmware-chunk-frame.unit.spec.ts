import { ContractViolation } from '../errors.js';
import {
  decodeFirmwareChunkFrame,
  encodeFirmwareChunkFrame,
  firmwareChunkFrameSubject,
} from './firmware-chunk-frame.js';

describe('firmware chunk frame', () => {
  const sealed = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);

  it('decodes what it encodes', () => {
    const frame = encodeFirmwareChunkFrame({ rolloutId: 'r-2026-1', index: 70_000, sealed });
    const decoded = decodeFirmwareChunkFrame(frame);
    expect(decoded.rolloutId).toBe('r-2026-1');
    expect(decoded.index).toBe(70_000);
    expect([...decoded.sealed]).toEqual([...sealed]);
  });

  it('is laid out as documented: magic, version, rollout id, big-endian index, sealed bytes', () => {
    const frame = encodeFirmwareChunkFrame({ rolloutId: 'r1', index: 258, sealed });
    expect(Buffer.from(frame.subarray(0, 12)).toString('hex')).toBe(`544b4643${'01'}${'02'}${'7231'}00000102`);
    expect(frame.length).toBe(12 + sealed.length);
  });

  it('decodes a frame inside a larger buffer (a NATS payload is a view)', () => {
    const frame = encodeFirmwareChunkFrame({ rolloutId: 'r1', index: 3, sealed });
    const padded = new Uint8Array(frame.length + 7);
    padded.set(frame, 7);
    expect(decodeFirmwareChunkFrame(padded.subarray(7)).index).toBe(3);
  });

  it('refuses what is not a frame: other magic, another version, truncated, an unsafe rollout id', () => {
    const good = encodeFirmwareChunkFrame({ rolloutId: 'r1', index: 3, sealed });
    const otherMagic = good.slice();
    otherMagic[0] = 0x7b; // '{': an envelope
    const otherVersion = good.slice();
    otherVersion[4] = 2;
    const badId = good.slice();
    badId[6] = 0x2e; // '.': not an aggregate id (and a subject separator)
    for (const bytes of [otherMagic, otherVersion, good.subarray(0, 12), badId, new Uint8Array(0)])
      expect(() => decodeFirmwareChunkFrame(bytes)).toThrow(ContractViolation);
  });

  it('refuses to encode an unsafe rollout id or an index outside uint32', () => {
    expect(() => encodeFirmwareChunkFrame({ rolloutId: 'a.b', index: 0, sealed })).toThrow(ContractViolation);
    expect(() => encodeFirmwareChunkFrame({ rolloutId: 'r1', index: -1, sealed })).toThrow(ContractViolation);
    expect(() => encodeFirmwareChunkFrame({ rolloutId: 'r1', index: 2 ** 32, sealed })).toThrow(ContractViolation);
  });

  it("travels on the device's inbox", () => {
    expect(firmwareChunkFrameSubject('d-1', 'ns1')).toBe('ns1.dev.d-1.inbox.firmware-chunk');
  });
});
