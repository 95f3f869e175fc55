import type { NatsConnection, Status } from '@nats-io/transport-node';

/**
 * Follows a NATS connection's status: whether it is connected right now (false from a disconnect
 * until the reconnect, and once closed), and a call after each reconnect, for what must act when the
 * bus is back (send again what may have been lost, catch a view up). Ends with the connection, or
 * on `stop()`.
 */
export class ConnectionWatch {
  #connected = true;
  readonly #status: AsyncIterable<Status> & { stop?: () => void };

  constructor(
    private readonly nats: NatsConnection,
    onReconnect: () => void = () => undefined,
  ) {
    // A stand-in connection (a test's) may have no status to follow (nor isClosed): connected.
    const statuses = typeof nats.status === 'function' ? nats.status() : emptyStatus();
    this.#status = statuses;
    void (async () => {
      for await (const status of statuses) {
        if (status.type === 'disconnect' || status.type === 'reconnecting') this.#connected = false;
        else if (status.type === 'reconnect') {
          this.#connected = true;
          onReconnect();
        }
      }
    })();
  }

  get connected(): boolean {
    return this.#connected && !(typeof this.nats.isClosed === 'function' && this.nats.isClosed());
  }

  stop(): void {
    this.#status.stop?.();
  }
}

async function* emptyStatus(): AsyncGenerator<Status> {}
