import { jest } from '@jest/globals';
import { ViewDrivenJob, viewDrivenJobSweepEveryMs } from './view-driven-job.js';

/** The view's side of a job: word of new work. */
class SignallingView {
  readonly listeners = new Set<() => void>();
  onOwed(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  signal(): void {
    for (const listener of this.listeners) listener();
  }
}

/** A job that counts its passes; a pass waits for `gate` when one is set, and throws while `failing`. */
class CountingJob extends ViewDrivenJob {
  passes = 0;
  listens = 0;
  gate: Promise<void> | undefined;
  failing = false;
  nowMs = 0;

  constructor(private readonly view: SignallingView) {
    super(() => this.nowMs);
  }

  get isRunning(): boolean {
    return this.running;
  }

  get retries() {
    return this.backoff;
  }

  protected listen(): () => void {
    this.listens++;
    return this.view.onOwed(() => this.wake());
  }

  protected async work(): Promise<void> {
    this.passes++;
    await this.gate;
    if (this.failing) throw new Error('pass failed');
  }
}

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('ViewDrivenJob', () => {
  let view: SignallingView;
  let job: CountingJob;

  beforeEach(() => {
    jest.useFakeTimers();
    view = new SignallingView();
    job = new CountingJob(view);
  });
  afterEach(async () => {
    await job.onModuleDestroy();
    jest.useRealTimers();
  });

  it('does nothing before bootstrap; bootstrapped (twice, as a hybrid app does) it listens once, runs a pass at once and one every second', async () => {
    jest.advanceTimersByTime(5 * viewDrivenJobSweepEveryMs);
    expect([job.passes, job.listens, job.isRunning]).toEqual([0, 0, false]);
    job.onApplicationBootstrap();
    job.onApplicationBootstrap();
    expect([job.passes, job.listens, view.listeners.size, job.isRunning]).toEqual([1, 1, 1, true]);
    await settle();
    jest.advanceTimersByTime(viewDrivenJobSweepEveryMs);
    expect(job.passes).toBe(2);
    await settle();
    jest.advanceTimersByTime(3 * viewDrivenJobSweepEveryMs);
    expect(job.passes).toBe(3); // the ticks between awaits joined the pass in progress
  });

  it('runs a pass when the view signals new work, joining the one in progress rather than starting a second', async () => {
    job.onApplicationBootstrap();
    await settle();
    const gate = deferred();
    job.gate = gate.promise;
    view.signal();
    expect(job.passes).toBe(2);
    view.signal();
    expect(job.passes).toBe(2);
    gate.resolve();
    await settle();
    job.gate = undefined;
    view.signal();
    expect(job.passes).toBe(3);
  });

  it('sweep() runs a pass and passes its failure on; a failing pass does not stop the ticks', async () => {
    await job.sweep(); // before bootstrap too (tests drive the job this way)
    expect(job.passes).toBe(1);
    job.failing = true;
    await expect(job.sweep()).rejects.toThrow('pass failed');
    job.onApplicationBootstrap(); // its first pass fails: swallowed
    await settle();
    jest.advanceTimersByTime(viewDrivenJobSweepEveryMs);
    await settle();
    expect(job.passes).toBe(4);
  });

  it('stopped with the module: waits for the pass in progress, stops listening and sweeping, and does not start again', async () => {
    const gate = deferred();
    job.gate = gate.promise;
    job.onApplicationBootstrap();
    let stopped = false;
    const stopping = job.onModuleDestroy().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect([view.listeners.size, job.isRunning]).toEqual([0, false]);
    job.onApplicationBootstrap();
    view.signal();
    jest.advanceTimersByTime(10 * viewDrivenJobSweepEveryMs);
    expect([job.passes, job.listens]).toEqual([1, 1]);
  });

  it("keeps each key's failures on the clock it was given", () => {
    expect(job.retries.failed('d-1')).toEqual({ failures: 1, retryInMs: 1_000, stuck: false });
    expect(job.retries.due('d-1')).toBe(false);
    job.nowMs += 1_000;
    expect(job.retries.due('d-1')).toBe(true);
  });
});
