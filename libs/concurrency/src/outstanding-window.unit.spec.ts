import { OutstandingWindow, type Outstanding } from './index.js';

/** A window whose attempts send at once (counted), on a clock the test moves. */
function windowOf(
  size: number,
  attempt?: (entry: Outstanding<string>, w: OutstandingWindow<string>) => Promise<unknown>,
) {
  let now = 1_000_000;
  const sends: string[] = [];
  const errors: unknown[] = [];
  const window: OutstandingWindow<string> = new OutstandingWindow<string>({
    size,
    retryMs: 10_000,
    concurrentAttempts: 4,
    now: () => now,
    attempt: attempt
      ? (entry) => attempt(entry, window)
      : async (entry) => {
          window.sent(entry);
          sends.push(entry.key);
        },
    onError: (error) => errors.push(error),
  });
  const entries = (...keys: string[]) => keys.map((key) => ({ key, item: `item-${key}`, expiresAfterMs: 60_000 }));
  return { window, sends, errors, entries, tick: (ms: number) => (now += ms) };
}

describe('outstanding window', () => {
  it('holds at most `size` entries; a release lets the next queued one in', async () => {
    const { window, sends, entries } = windowOf(2);
    window.add(entries('a', 'b', 'c', 'd', 'e'));
    await window.idle();
    expect(sends).toEqual(['a', 'b']);
    expect([window.outstanding, window.queued]).toEqual([2, 3]);
    expect(window.release('a')).toBe(true);
    expect(window.release('a')).toBe(false);
    await window.idle();
    expect(sends).toEqual(['a', 'b', 'c']);
    expect(window.entries().map((e) => e.key)).toEqual(['b', 'c']);
    for (const key of ['b', 'c', 'd', 'e']) {
      window.release(key);
      await window.idle();
    }
    expect(sends).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect([window.outstanding, window.queued]).toEqual([0, 0]);
  });

  it('tracks the keys it holds or queues; a key queued already is not queued twice', async () => {
    const { window, sends, entries } = windowOf(1);
    window.add(entries('a', 'b'));
    window.add(entries('b', 'c'));
    await window.idle();
    expect([window.tracks('a'), window.tracks('b'), window.tracks('c'), window.tracks('z')]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(window.queued).toBe(2);
    for (let i = 0; i < 3; i++) {
      window.release(window.entries()[0]!.key);
      await window.idle();
    }
    expect([...sends].sort()).toEqual(['a', 'b', 'c']);
    expect(window.tracks('b')).toBe(false);
  });

  it('an entry added while outstanding is attempted again now and holds no second slot', async () => {
    const { window, sends, entries } = windowOf(2);
    window.add(entries('a'));
    await window.idle();
    window.add(entries('a', 'b'));
    await window.idle();
    expect(sends.sort()).toEqual(['a', 'a', 'b']);
    expect(window.outstanding).toBe(2);
    expect(window.get('a')!.attempts).toBe(2);
  });

  it('is due again after the retry wait, doubling after each send; expired past its expiry', async () => {
    const { window, entries, tick } = windowOf(4);
    window.add(entries('a'));
    await window.idle();
    const a = window.get('a')!;
    const dueKeys = () => window.due().due.map((e) => e.key);
    tick(9_999);
    expect(dueKeys()).toEqual([]);
    tick(1);
    expect(dueKeys()).toEqual(['a']);
    window.sent(a); // 2nd send: due 20 s later
    tick(19_999);
    expect(dueKeys()).toEqual([]);
    tick(1);
    expect(dueKeys()).toEqual(['a']);
    window.sent(a); // 3rd: 40 s
    expect(a.nextAttemptAt - a.expiresAt).toBeGreaterThan(0);
    tick(30_000);
    expect(window.due()).toEqual({ expired: [a], due: [] });
  });

  it('dueNow makes every outstanding entry due at once, its doubling kept', async () => {
    const { window, entries, tick } = windowOf(4);
    window.add(entries('a', 'b'));
    await window.idle();
    window.sent(window.get('b')!); // b: 2 sends, next one 20 s on
    tick(1_000);
    expect(window.due().due).toEqual([]);
    expect(window.dueNow()).toBe(2);
    expect(window.due().due.map((e) => e.key)).toEqual(['a', 'b']);
    window.sent(window.get('b')!); // the 3rd send: the next one 40 s on, as without dueNow
    tick(39_999);
    expect(window.due().due.map((e) => e.key)).toEqual(['a']);
    tick(1);
    expect(window.due().due.map((e) => e.key)).toEqual(['a', 'b']);
  });

  it('an entry not sent (log or bus out of reach) is due again after at most 2 s, not the retry wait', async () => {
    const { window, entries, tick } = windowOf(4);
    window.add(entries('a'));
    await window.idle();
    window.retryLater(window.get('a')!);
    tick(1_999);
    expect(window.due().due).toEqual([]);
    tick(1);
    expect(window.due().due.map((e) => e.key)).toEqual(['a']);
  });

  it('an attempt that fails keeps the entry (reported), one that releases frees the slot', async () => {
    const { window, errors, entries } = windowOf(1, async (entry, w) => {
      if (entry.key === 'skip') w.release(entry.key);
      else throw new Error('bus down');
    });
    window.add(entries('skip', 'fail', 'never'));
    await window.idle();
    expect(window.entries().map((e) => e.key)).toEqual(['fail']);
    expect(errors).toHaveLength(1);
    expect(window.queued).toBe(1);
  });

  it('close frees every slot: the queued entries pass through unattempted', async () => {
    const { window, sends, entries } = windowOf(1);
    window.add(entries('a', 'b', 'c'));
    await window.idle();
    await window.close();
    expect(sends).toEqual(['a']);
    expect([window.outstanding, window.queued]).toEqual([0, 0]);
  });
});
