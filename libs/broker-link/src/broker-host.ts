/**
 * The broker's side of the link: its files, its process and its log, on the host (or in the pod)
 * where they live. Installing trust is writing the files, signalling the broker and waiting until
 * its log says it reloaded them (or could not); connections are read from the same log.
 */
import { describeError } from '@tunnelkey/errors';
import { LogTail, parseBrokerLogLine, type BrokerLogFact } from './broker-log.js';
import { writeBrokerFiles, type BrokerReloader, type BrokerTrustPaths } from './broker-files.js';
import type { BrokerConnectionFact, BrokerTrustFiles } from './broker-messages.js';
import { BrokerLinkError, BrokerTrustRefusedError, BrokerUnreachableError } from './errors.js';

/** How often the log is read while a reload is awaited (ms). */
const reloadPollMs = 2;

type ReloadFact = Extract<BrokerLogFact, { kind: 'reloaded' | 'reload-failed' }>;

export interface BrokerHostSettings {
  brokerId: string;
  files: BrokerTrustPaths;
  reloader: BrokerReloader;
  /** The broker's log file (log_dest file, connection_messages true). */
  logFile: string;
  /** How long an install waits for the broker to log its reload. Default 5 s. */
  reloadTimeoutMs?: number;
  /** How often the log is read (ms). Default 20. */
  logPollMs?: number;
}

export class BrokerHost {
  readonly #listeners = new Set<(fact: BrokerConnectionFact) => void>();
  readonly #reloadWaiters = new Set<(fact: ReloadFact) => void>();
  /** Client ids connected now, as the log tells (since the broker's last start). */
  readonly #connected = new Set<string>();
  /** Installs run one after the other: two reloads at once could not be told apart in the log. */
  #installing: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly settings: BrokerHostSettings,
    private tail?: LogTail,
  ) {}

  /**
   * Follows the broker's log from its current end; what it holds already tells who is connected now
   * (read, not reported as facts): an agent that starts after its broker knows the clients already there.
   */
  static async open(settings: BrokerHostSettings): Promise<BrokerHost> {
    const host = new BrokerHost(settings);
    const { lines, end } = await LogTail.readUpToNow(settings.logFile);
    for (const line of lines) {
      const fact = parseBrokerLogLine(line);
      if (fact) host.#track(fact);
    }
    host.tail = await LogTail.followFrom(settings.logFile, end, (line) => host.#onLogLine(line), settings.logPollMs);
    return host;
  }

  get brokerId(): string {
    return this.settings.brokerId;
  }

  /** The client ids connected to the broker now, as far as its log tells. */
  connectedClients(): string[] {
    return [...this.#connected];
  }

  /** Connections and disconnections the broker logs from now on. */
  onConnectionFact(listener: (fact: BrokerConnectionFact) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Writes the files and reloads the broker; resolves once it logged the reload without a
   * certificate or CRL error. Content refused before writing changes nothing.
   */
  installTrust(files: BrokerTrustFiles): Promise<void> {
    const next = this.#installing.then(() => this.#install(files));
    this.#installing = next.catch(() => undefined);
    return next;
  }

  async #install(files: BrokerTrustFiles): Promise<void> {
    try {
      await writeBrokerFiles(files, this.settings.files);
    } catch (error) {
      if (error instanceof BrokerLinkError) throw error;
      throw new BrokerUnreachableError(
        `broker trust files cannot be written: ${describeError(error)}`,
        { brokerId: this.brokerId },
        { cause: error },
      );
    }
    const reloaded = this.#nextReload();
    try {
      await this.settings.reloader.reload();
    } catch (error) {
      // Not signalled (the broker killed, restarting): no reload to wait for.
      reloaded.cancel();
      throw error;
    }
    // The broker logs its reload within milliseconds: read the log every 2 ms until then rather than
    // at the follower's pace (a revocation waits for this reload before any session is dropped).
    const reading = setInterval(() => void this.tail?.poll(), reloadPollMs);
    try {
      await reloaded.done;
    } finally {
      clearInterval(reading);
    }
  }

  /** Resolves once the broker logs its next reload, rejects if that reload logs a certificate/CRL load error. */
  #nextReload(): { done: Promise<void>; cancel(): void } {
    const timeoutMs = this.settings.reloadTimeoutMs ?? 5_000;
    let cancel = () => undefined as void;
    const reloaded = new Promise<void>((resolve, reject) => {
      let reloaded = false;
      const done = (fact: ReloadFact) => {
        if (fact.kind === 'reload-failed') {
          if (!reloaded) return; // an earlier reload's error
          clearTimeout(timer);
          this.#reloadWaiters.delete(done);
          reject(
            new BrokerTrustRefusedError(`broker could not load the trust files it was given: ${fact.detail}`, {
              brokerId: this.brokerId,
            }),
          );
          return;
        }
        if (reloaded) return;
        reloaded = true;
        clearTimeout(timer);
        // OpenSSL contexts are rebuilt right after the log line, in the same loop turn, and their errors
        // logged with it: read the log once more before calling the reload good.
        timer = setTimeout(() => {
          void (this.tail?.poll() ?? Promise.resolve()).then(() => {
            if (!this.#reloadWaiters.delete(done)) return; // failed meanwhile
            resolve();
          });
        }, 10);
      };
      let timer = setTimeout(() => {
        this.#reloadWaiters.delete(done);
        reject(
          new BrokerUnreachableError(`broker did not log a reload within ${timeoutMs} ms`, { brokerId: this.brokerId }),
        );
      }, timeoutMs);
      this.#reloadWaiters.add(done);
      cancel = () => {
        clearTimeout(timer);
        this.#reloadWaiters.delete(done);
      };
    });
    return { done: reloaded, cancel };
  }

  #onLogLine(line: string): void {
    const fact = parseBrokerLogLine(line);
    if (!fact) return;
    this.#track(fact);
    if (fact.kind === 'reloaded' || fact.kind === 'reload-failed') {
      for (const waiter of [...this.#reloadWaiters]) waiter(fact);
      return;
    }
    if (fact.kind === 'started') return;
    for (const listener of this.#listeners) listener(fact);
  }

  #track(fact: BrokerLogFact): void {
    if (fact.kind === 'started') this.#connected.clear();
    else if (fact.kind === 'connected') this.#connected.add(fact.clientId);
    else if (fact.kind === 'disconnected') this.#connected.delete(fact.clientId);
  }

  close(): void {
    this.tail?.stop();
    this.#listeners.clear();
  }
}
