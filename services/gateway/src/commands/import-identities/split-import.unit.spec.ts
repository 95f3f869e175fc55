import { partCommandId, partImportId, splitCsv, splitJsonRows } from './split-import.js';

describe('splitting an identity file into ImportIdentities calls', () => {
  it('JSON: parts of at most the row limit, row numbers mapped back to the file', () => {
    const rows = Array.from({ length: 7 }, (_, i) => ({ deviceId: `d${i}`, enrolmentPublicKey: 'k' }));
    const parts = splitJsonRows(rows, 3);
    expect(parts.map((p) => (p.source as { rows: unknown[] }).rows.length)).toEqual([3, 3, 1]);
    expect(parts[2]!.originalRow(1)).toBe(7);
    expect(parts[1]!.originalRow(2)).toBe(5);
  });

  it('CSV: the header on every part, quoted multi-line keys kept whole, report lines mapped to file lines', () => {
    const pem = '"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"';
    const text = ['deviceId,enrolmentPublicKey', `d1,${pem}`, '', `d2,${pem}`, 'd3,BBBB', `d4,${pem}`].join('\r\n');
    const parts = splitCsv(text, 2);
    expect(parts).toHaveLength(2);
    for (const part of parts)
      expect((part.source as { text: string }).text.startsWith('deviceId,enrolmentPublicKey\n')).toBe(true);
    // Part 1: d1 on its line 2 (file line 2), d2 on its line 5 (file line 6: a blank line was skipped).
    expect(parts[0]!.originalRow(2)).toBe(2);
    expect(parts[0]!.originalRow(5)).toBe(6);
    // Part 2: d3 on its line 2 (file line 9), d4 on its line 3 (file line 10).
    expect(parts[1]!.originalRow(2)).toBe(9);
    expect(parts[1]!.originalRow(3)).toBe(10);
  });

  it('CSV: a part also stays under the byte limit', () => {
    const text = [
      'deviceId,enrolmentPublicKey',
      ...Array.from({ length: 10 }, (_, i) => `d${i},${'K'.repeat(100)}`),
    ].join('\n');
    const parts = splitCsv(text, 2500, 400);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts)
      expect(Buffer.byteLength((part.source as { text: string }).text)).toBeLessThanOrEqual(400);
  });

  it('refuses empty files and unterminated quotes, naming where', () => {
    expect(() => splitJsonRows([])).toThrow(/no rows/);
    expect(() => splitCsv('deviceId,enrolmentPublicKey\n')).toThrow(/no rows/);
    expect(() => splitCsv('deviceId,enrolmentPublicKey\nd1,"open\n')).toThrow(/unterminated/);
  });

  it('derives stable part ids, so a retried import repeats every part id', () => {
    expect(partCommandId('c1', 0, 1)).toBe('c1');
    expect(partCommandId('c1', 1, 3)).toBe(partCommandId('c1', 1, 3));
    expect(partCommandId('c1', 1, 3)).not.toBe(partCommandId('c1', 2, 3));
    expect(partImportId('file', 1, 3)).toBe('file-p2');
    expect(partImportId('file', 0, 1)).toBe('file');
  });
});
