/**
 * A level-triggered job on a view that lists work owed (devices to revoke, cut off, record): it
 * works through the list until the view lists nothing, at once when the view signals new work and
 * again at every sweep (1 s) while anything is listed. Nothing is lost to a crash, a restart or a
 * failed attempt: the view is rebuilt from the log and lists it again. Started once the application
 * has bootstrapped (once: a hybrid app bootstraps twice), stopped with the module.
 *
 * A subclass says how it hears of new work (`listen`, usually `view.onOwed(() => this.wake())`) and
 * what one pass does (`work`, checking `stopped` between items); `backoff` keeps each key's failures
 * (a growing wait before the next attempt, never given up, `stuck` at the fifth in a row).
 */
import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { PeriodicTask, RetryBackoff } from '@tunnelkey/concurrency';

export const viewDrivenJobSweepEveryMs = 1_000;

export abstract class ViewDrivenJob implements OnApplicationBootstrap, OnModuleDestroy {
  /** Keys (devices) whose last attempt failed. */
  protected readonly backoff: RetryBackoff;
  readonly #task = new PeriodicTask(() => this.work(), viewDrivenJobSweepEveryMs);
  #started = false;
  #stopped = false;
  #stopListening: (() => void) | undefined;

  /** `now`: the service's clock, in ms since the epoch (the backoff's waits). */
  protected constructor(now: () => number) {
    this.backoff = new RetryBackoff({ now });
  }

  /** Subscribes to the view's word of new work; returns the unsubscribe. Called once, at bootstrap. */
  protected abstract listen(): () => void;

  /** One pass over what the view lists (those waiting out a failure excepted); handles its own errors. */
  protected abstract work(): Promise<void>;

  /** Bootstrapped (listening, sweeping) and not stopped since. */
  protected get running(): boolean {
    return this.#started && !this.#stopped;
  }

  /** Stopped with the module: a pass ends before its next item. */
  protected get stopped(): boolean {
    return this.#stopped;
  }

  onApplicationBootstrap(): void {
    if (this.#started || this.#stopped) return; // the hybrid app bootstraps twice
    this.#started = true;
    this.#stopListening = this.listen();
    this.#task.start();
    this.wake();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    this.#stopListening?.();
    await this.#task.stop();
  }

  /** One pass now (or joins the one in progress); resolves when done (tests). */
  sweep(): Promise<void> {
    return this.#task.runNow();
  }

  /** A pass now, or joins the one in progress (what it has gone past waits for the next sweep). */
  protected wake(): void {
    void this.#task.runNow().catch(() => undefined);
  }
}
