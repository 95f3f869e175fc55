/**
 * A task run every `everyMs` (a job's sweep, refresh or flush), one run at a time: a tick that comes
 * while a run is still going joins it instead of starting another, `runNow()` does the same, and
 * `stop()` clears the timer and waits for the run in progress. The timer does not keep the process
 * alive. The task handles its own errors; a tick swallows what it lets through (`runNow()` does not).
 */
export class PeriodicTask<T = unknown> {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<T> | undefined;

  constructor(
    private readonly task: () => Promise<T>,
    readonly everyMs: number,
  ) {}

  /** Starts the ticks (again after a stop); a second start changes nothing. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.runNow().catch(() => undefined), this.everyMs);
    this.#timer.unref();
  }

  /** Runs the task now, or joins the run in progress. */
  runNow(): Promise<T> {
    this.#running ??= this.task().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** No more ticks; resolves once the run in progress (if any) has ended, however it ended. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }
}
