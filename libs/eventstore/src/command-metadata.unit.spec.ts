import { derivedCommandId, derivedMetadata, metadataOf } from './command-metadata.js';

const commandIdPattern = /^[A-Za-z0-9_-]{1,128}$/;

describe('derived command ids', () => {
  it('are readable while short and plain, and stable', () => {
    expect(derivedCommandId('c-1', 'device', 'd-7f3a')).toBe('c-1_device_d-7f3a');
    expect(derivedCommandId('c-1', 'device', 'd-7f3a')).toBe(derivedCommandId('c-1', 'device', 'd-7f3a'));
  });

  it('are valid command ids even from long or unusual pieces, and never read the same for different pieces', () => {
    const long = derivedCommandId('c'.repeat(100), 'x'.repeat(40));
    const odd = derivedCommandId('c-1', 'at 2026-01-01T00:00:00.000Z');
    for (const id of [long, odd]) expect(id).toMatch(commandIdPattern);
    expect(derivedCommandId('a_b', 'c')).not.toBe(derivedCommandId('a', 'b_c'));
    expect(derivedCommandId('a', 'b', 'c')).not.toBe(derivedCommandId('a', 'b_c'));
  });

  it('derived metadata keeps the time, actor and correlation of the command it comes from', () => {
    const metadata = metadataOf(
      { commandId: 'c-1', actor: { kind: 'operator', id: 'op' } },
      new Date('2026-01-01T00:00:00Z'),
    );
    expect(metadata).toEqual({
      commandId: 'c-1',
      correlationId: 'c-1',
      now: '2026-01-01T00:00:00.000Z',
      actor: { kind: 'operator', id: 'op' },
    });
    expect(derivedMetadata(metadata, 'd-1')).toEqual({ ...metadata, commandId: 'c-1_d-1' });
  });
});
