import type { Logger } from 'pino';

/** What runs in this process and must stop before it exits. */
const running = new Set<{ service: string; stop(): Promise<void> }>();
let installed = false;

/** How long a stop may take after SIGTERM before the process exits anyway (Kubernetes' grace period is 30 s). */
export function shutdownTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const value = Number(env.SHUTDOWN_TIMEOUT_MS);
  return Number.isInteger(value) && value > 0 ? value : 25_000;
}

/**
 * Stops `service` on SIGTERM or SIGINT: it stops taking work (the command transport and every
 * subscription close; an event in flight is finished or, unacknowledged, redelivered to another
 * instance), then closes. Once every service of the process stopped, the process exits 0 (1 when
 * a stop failed or outlasted SHUTDOWN_TIMEOUT_MS), unless the process's own handler of the signal
 * (a service's main.ts) decides when to exit. Returns the function that forgets it (its stop).
 */
export function stopOnSignals(service: string, stop: () => Promise<void>, logger: Logger): () => void {
  const entry = { service, stop };
  running.add(entry);
  if (!installed) {
    installed = true;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => void shutDown(signal, logger));
    }
  }
  return () => running.delete(entry);
}

let stopping: Promise<void> | undefined;

function shutDown(signal: NodeJS.Signals, logger: Logger): Promise<void> {
  // Counted now: a main.ts's own `once` handler is still registered while this one runs.
  const ownHandler = process.listenerCount(signal) > 1;
  stopping ??= (async () => {
    const services = [...running];
    logger.info({ event: 'service.stopping', signal, services: services.map((s) => s.service) }, 'stopping');
    const timeoutMs = shutdownTimeoutMs();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      Promise.allSettled(services.map((s) => s.stop())).then((results) =>
        results.some((r) => r.status === 'rejected') ? 'failed' : 'stopped',
      ),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (outcome === 'stopped') logger.info({ event: 'service.stopped', signal }, 'stopped');
    else logger.error({ event: 'service.stop_failed', signal, outcome, timeoutMs }, 'stop failed');
    if (!ownHandler) process.exit(outcome === 'stopped' ? 0 : 1);
  })();
  return stopping;
}
