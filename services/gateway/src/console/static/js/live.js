// The gateway's server-sent events. EventSource cannot send an Authorization header, so each
// connection uses a one-minute ticket from POST /api/sse-tickets; when the stream drops (or the
// ticket has expired by a reconnect), a new ticket is fetched and the stream reopened.
import { post } from './api.js';

const types = ['hello', 'device', 'batch', 'devices-changed', 'catalog', 'fleet'];

export class LiveStream {
  /** @type {EventSource | undefined} */
  #source;
  /** @type {Set<(type: string, data: any) => void>} */
  #listeners = new Set();
  /** @type {Set<(status: 'connecting' | 'live' | 'offline') => void>} */
  #statusListeners = new Set();
  #retryMs = 1_000;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer;
  #stopped = true;

  start() {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#open();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#source?.close();
    this.#source = undefined;
    this.#status('offline');
  }

  /** @param {(type: string, data: any) => void} listener @returns {() => void} */
  subscribe(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** @param {(status: 'connecting' | 'live' | 'offline') => void} listener */
  onStatus(listener) {
    this.#statusListeners.add(listener);
  }

  /** @param {'connecting' | 'live' | 'offline'} status */
  #status(status) {
    for (const listener of this.#statusListeners) listener(status);
  }

  async #open() {
    this.#status('connecting');
    try {
      const { ticket } = await post('/api/sse-tickets');
      if (this.#stopped) return;
      const source = new EventSource(`/events?ticket=${encodeURIComponent(ticket)}`);
      this.#source = source;
      for (const type of types) {
        source.addEventListener(type, (event) => {
          const data = JSON.parse(/** @type {MessageEvent} */ (event).data || '{}');
          if (type === 'hello') {
            this.#retryMs = 1_000;
            this.#status('live');
          }
          for (const listener of this.#listeners) listener(type, data);
        });
      }
      source.onerror = () => {
        // EventSource would retry with the same (soon expired) ticket: reopen with a fresh one.
        source.close();
        this.#retry();
      };
    } catch {
      this.#retry();
    }
  }

  #retry() {
    if (this.#stopped) return;
    this.#status('offline');
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#open(), this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, 15_000);
  }
}
