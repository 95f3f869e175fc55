import type { RecordedEvent } from '@tunnelkey/eventstore';
import { pino } from 'pino';
import { SharedTail, type TailConsumer, type TailSource } from './shared-follower.js';

const recorded = (sequence: number): RecordedEvent =>
  ({ sequence, subject: `ns.registry.policy.p-${sequence}`, event: { type: 'T', id: `e-${sequence}` } }) as never;

/** A stream of `head` events and consumers the test drives: each delivers only when told to. */
function fakeSource() {
  const consumers: { from: number; deliver: (r: RecordedEvent, d: number) => void; stopped: boolean }[] = [];
  let head = 0;
  let failOpen = false;
  const source: TailSource = {
    stream: 'NS_REGISTRY',
    logger: pino({ level: 'silent' }),
    async open(from, deliver) {
      if (failOpen) throw new Error('no leader yet');
      const consumer = { from, deliver, stopped: false };
      consumers.push(consumer);
      const handle: TailConsumer = {
        info: async () => undefined,
        done: Promise.resolve(),
        stop: async () => {
          consumer.stopped = true;
        },
      };
      return handle;
    },
    head: async () => head,
    replay: async () => undefined,
    nextAfter: async (sequence) => (sequence < head ? sequence + 1 : undefined),
  };
  return {
    source,
    consumers,
    append: () => ++head,
    failOpen: (fail: boolean) => {
      failOpen = fail;
    },
  };
}

describe('a shared tail whose consumer stops delivering', () => {
  it('opens a new consumer after the last delivered event once two checks in a row find an undelivered one', async () => {
    const stream = fakeSource();
    const tail = await SharedTail.open(stream.source, 1, () => undefined, { checkEveryMs: 3_600_000 });
    const seen: number[] = [];
    await tail.attach((r) => void seen.push(r.sequence), 1);
    const [first] = stream.consumers;
    stream.append();
    first!.deliver(recorded(1), 1);
    stream.append(); // #2 is stored, the consumer never delivers it (its server is gone)

    expect(await tail.checkLiveness()).toBe(false); // delivered since the last check: alive
    expect(await tail.checkLiveness()).toBe(false); // #2 pending: suspect, once
    expect(await tail.checkLiveness()).toBe(true); // still pending: resumed
    expect(stream.consumers.map((c) => ({ from: c.from, stopped: c.stopped }))).toEqual([
      { from: 1, stopped: true },
      { from: 2, stopped: false },
    ]);
    // The stalled one handing over something late changes nothing; the new one delivers from #2.
    first!.deliver(recorded(2), 2);
    stream.consumers[1]!.deliver(recorded(2), 1);
    expect(seen).toEqual([1, 2]);
  });

  it('leaves an idle consumer alone (nothing past what it delivered), and one that delivers', async () => {
    const stream = fakeSource();
    const tail = await SharedTail.open(stream.source, 1, () => undefined, { checkEveryMs: 3_600_000 });
    await tail.attach(() => undefined, 1);
    for (let i = 0; i < 3; i++) expect(await tail.checkLiveness()).toBe(false);
    for (let i = 1; i <= 3; i++) {
      stream.append();
      expect(await tail.checkLiveness()).toBe(false); // pending once: suspect
      stream.consumers[0]!.deliver(recorded(i), i); // then delivered
    }
    expect(await tail.checkLiveness()).toBe(false);
    expect(stream.consumers).toHaveLength(1);
  });

  it('keeps the stalled consumer and tries again at the next check when a new one cannot be opened yet', async () => {
    const stream = fakeSource();
    const tail = await SharedTail.open(stream.source, 1, () => undefined, { checkEveryMs: 3_600_000 });
    const seen: number[] = [];
    await tail.attach((r) => void seen.push(r.sequence), 1);
    stream.append();
    stream.failOpen(true);
    expect(await tail.checkLiveness()).toBe(false);
    expect(await tail.checkLiveness()).toBe(false); // could not open: still the first
    expect(stream.consumers).toHaveLength(1);
    stream.failOpen(false);
    expect(await tail.checkLiveness()).toBe(true);
    stream.consumers[1]!.deliver(recorded(1), 1);
    expect(seen).toEqual([1]);
  });
});
