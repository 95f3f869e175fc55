import type { NatsConnection } from '@nats-io/transport-node';
import { ConnectionWatch } from './connection-watch.js';

/**
 * Whether a follower of the log (a view, a durable) may be behind because the bus went away:
 * behind from the disconnect until, once the connection is back, a `catchUp` started after the
 * reconnect resolves (tried again every `retryMs` while it fails: JetStream may answer a moment
 * after the connection is back). A follower that never catches up (stuck on an event) stays behind.
 */
export class ReconnectCatchUp {
  #behind = false;
  #round = 0;
  #stopped = false;
  readonly #watch: ConnectionWatch;

  constructor(
    nats: NatsConnection,
    private readonly catchUp: () => Promise<void>,
    private readonly retryMs = 1_000,
  ) {
    this.#watch = new ConnectionWatch(nats, () => void this.#catchUp());
  }

  get behind(): boolean {
    return this.#behind || !this.#watch.connected;
  }

  stop(): void {
    this.#stopped = true;
    this.#watch.stop();
  }

  async #catchUp(): Promise<void> {
    const round = ++this.#round;
    this.#behind = true;
    while (round === this.#round && !this.#stopped) {
      try {
        await this.catchUp();
        if (round === this.#round) this.#behind = false;
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, this.retryMs));
      }
    }
  }
}
