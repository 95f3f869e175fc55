import { ConcurrencyLimiter, KeyedQueue, mapBounded } from './index.js';

describe('concurrency limiter', () => {
  it('start() resolves once the task has a slot, not when it ends; a failing task fails only itself', async () => {
    const limiter = new ConcurrencyLimiter(1);
    let finishFirst!: () => void;
    const first = new Promise<void>((resolve) => (finishFirst = resolve));
    await limiter.start(() => first);
    let secondStarted = false;
    const second = limiter.start(() => ((secondStarted = true), Promise.reject(new Error('handshake failed'))));
    await new Promise((r) => setImmediate(r));
    expect(secondStarted).toBe(false);
    finishFirst();
    await second;
    expect(secondStarted).toBe(true);
    await limiter.idle();
    expect(limiter.active).toBe(0);
  });

  it('never runs more than its limit, refuses past its queue, and reports idle', async () => {
    const limiter = new ConcurrencyLimiter(2, 1);
    let running = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    const task = () =>
      new Promise<void>((resolve) => {
        running++;
        peak = Math.max(peak, running);
        releases.push(() => {
          running--;
          resolve();
        });
      });
    const runs = [limiter.run(task), limiter.run(task), limiter.tryRun(task)];
    expect(limiter.tryRun(task)).toBeUndefined();
    expect(limiter.active).toBe(2);
    while (releases.length) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(runs);
    await limiter.idle();
    expect(peak).toBe(2);
  });
});

describe('keyed queue', () => {
  it('runs tasks of one key in order, other keys alongside, at most `limit` at once, and a failure stops nothing after it', async () => {
    const queue = new KeyedQueue(2);
    const order: string[] = [];
    let running = 0;
    let peak = 0;
    const task =
      (name: string, fail = false) =>
      async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        order.push(name);
        running--;
        if (fail) throw new Error(`${name} failed`);
        return name;
      };
    const results = [
      queue.run('a', task('a1', true)),
      queue.run('a', task('a2')),
      queue.run('b', task('b1')),
      queue.run('c', task('c1')),
    ];
    const settled = await Promise.allSettled(results);
    await queue.idle();
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(order.indexOf('a1')).toBeLessThan(order.indexOf('a2'));
    expect(peak).toBe(2);
  });
});

describe('mapBounded', () => {
  it('keeps input order with at most `limit` in flight', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapBounded([5, 1, 4, 2, 3], 2, async (n, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10 + i;
    });
    expect(out).toEqual([50, 11, 42, 23, 34]);
    expect(peak).toBe(2);
  });
});
