import { jest } from '@jest/globals';
import { PeriodicTask } from './periodic-task.js';

describe('PeriodicTask', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const deferred = () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  };

  it('runs every interval once started, never two runs at once, and not after stop', async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    let runs = 0;
    const task = new PeriodicTask(async () => {
      runs++;
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
    }, 1_000);
    jest.advanceTimersByTime(5_000);
    expect(runs).toBe(0); // not started
    task.start();
    task.start();
    jest.advanceTimersByTime(1_000);
    expect(runs).toBe(1);
    jest.advanceTimersByTime(3_000); // the first run is still going: the ticks join it
    expect(runs).toBe(1);
    gates[0]!.resolve();
    await Promise.resolve();
    await Promise.resolve();
    jest.advanceTimersByTime(1_000);
    expect(runs).toBe(2);
    let stopped = false;
    const stopping = task.stop().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false); // waits for the run in progress
    gates[1]!.resolve();
    await stopping;
    jest.advanceTimersByTime(10_000);
    expect(runs).toBe(2);
  });

  it('runNow joins the run in progress and passes its result and its error on', async () => {
    let calls = 0;
    const gate = deferred();
    const task = new PeriodicTask(async () => {
      calls++;
      await gate.promise;
      if (calls === 2) throw new Error('second run fails');
      return calls;
    }, 1_000);
    const first = task.runNow();
    const joined = task.runNow();
    gate.resolve();
    await expect(Promise.all([first, joined])).resolves.toEqual([1, 1]);
    await expect(task.runNow()).rejects.toThrow('second run fails');
    await expect(task.stop()).resolves.toBeUndefined();
  });
});
