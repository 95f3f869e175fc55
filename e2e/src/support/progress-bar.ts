/**
 * A progress bar per phase on stderr, no dependency: redrawn in place on a terminal (at most every
 * 100 ms), one line per 10 % otherwise (CI logs, pipes).
 */
export class ProgressBar {
  readonly #started = performance.now();
  readonly #tty = process.stderr.isTTY === true;
  #lastDraw = 0;
  #lastDecile = -1;
  #done = 0;
  #total = 0;
  #note = '';

  constructor(readonly label: string) {}

  update(done: number, total: number, note = ''): void {
    this.#done = done;
    this.#total = total;
    this.#note = note;
    const now = performance.now();
    if (this.#tty) {
      if (now - this.#lastDraw < 100 && done < total) return;
      this.#lastDraw = now;
      process.stderr.write(`\r${this.#line()}\x1b[K`);
    } else {
      const decile = total > 0 ? Math.floor((done / total) * 10) : 0;
      if (decile === this.#lastDecile) return;
      this.#lastDecile = decile;
      process.stderr.write(`${this.#line()}\n`);
    }
  }

  /** Ends the bar; returns the seconds the phase took. */
  finish(note = this.#note): number {
    const seconds = (performance.now() - this.#started) / 1000;
    this.#note = note;
    if (this.#tty) process.stderr.write(`\r${this.#line()}\x1b[K\n`);
    else process.stderr.write(`${this.#line()} done\n`);
    return seconds;
  }

  #line(): string {
    const width = 30;
    const ratio = this.#total > 0 ? Math.min(1, this.#done / this.#total) : 0;
    const filled = Math.round(ratio * width);
    const seconds = ((performance.now() - this.#started) / 1000).toFixed(1);
    return `${this.label.padEnd(34)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(this.#done).padStart(6)}/${this.#total} ${String(Math.floor(ratio * 100)).padStart(3)} % ${seconds.padStart(6)} s${this.#note ? `  ${this.#note}` : ''}`;
  }
}
