/**
 * The frame every e2e bench runs in: NATS (the server on NATS_URL, or one started here), a fresh
 * namespace on it, Mosquitto's files checked when the bench needs a broker, and one place that
 * stops what the bench started, newest first, when it ends, fails or gets SIGINT/SIGTERM; then
 * the process exits with the bench's status (1 on an error, else `process.exitCode`).
 */
import { natsFixture, type NatsFixture } from '@tunnelkey/testing';
import { checkMosquitto, useOrStartNats, type NatsServer } from './infrastructure.js';
import { pidListeningOn } from './process-cpu.js';

/** Progress and diagnostics go to stderr; the figures a bench prints go to stdout. */
export const log = (line = ''): void => void process.stderr.write(`${line}\n`);

export interface Bench {
  readonly nats: NatsServer;
  readonly fixture: NatsFixture;
  readonly namespace: string;
  /** The NATS server's pid when this user can see it (its CPU can then be counted). */
  readonly natsPid: number | undefined;
  /**
   * Stops `stop` when the bench ends, before anything registered earlier. Also takes SIGINT and
   * SIGTERM back from whatever installed its own handlers since (Nest does, on start), so an
   * interrupted bench still stops the broker and the fleet.
   */
  onStop(stop: () => unknown): void;
}

export interface BenchOptions {
  /** The bench starts a Mosquitto broker: check its binary and plugin first. */
  mosquitto: boolean;
}

export function runBench(options: BenchOptions, body: (bench: Bench) => Promise<void>): void {
  const stops: (() => unknown)[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    })());
  const takeSignals = () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeAllListeners(signal);
      process.on(signal, () => void stopAll().then(() => process.exit(130)));
    }
  };
  const onStop = (stop: () => unknown) => {
    stops.push(stop);
    takeSignals();
  };
  takeSignals();
  const run = async () => {
    if (options.mosquitto) await checkMosquitto();
    const nats = await useOrStartNats(log);
    onStop(() => nats.stop());
    const fixture = natsFixture({ url: nats.url, prefix: 'bench' });
    await fixture.setup();
    onStop(() => fixture.teardown());
    const natsPid = pidListeningOn(Number(new URL(nats.url).port || 4222));
    await body({ nats, fixture, namespace: fixture.namespace, natsPid, onStop });
  };
  run().then(
    () => stopAll().then(() => process.exit(process.exitCode ?? 0)),
    (error: unknown) => {
      log(error instanceof Error ? (error.stack ?? error.message) : String(error));
      return stopAll().then(() => process.exit(1));
    },
  );
}
