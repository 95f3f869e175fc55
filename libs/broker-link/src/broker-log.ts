/**
 * Connection facts from the broker's log. Mosquitto 2.0 publishes no per-client connect or
 * disconnect events (its $SYS tree only has counts, and the $CONTROL API lists configured
 * clients, not connected ones), but with `connection_messages true` it logs every connect and
 * disconnect with the client id, flushed line by line. We tail that log.
 */
import { open, stat } from 'node:fs/promises';

/** Why a client left, as far as the broker's log tells. */
export type DisconnectReason =
  | 'client-closed'
  | 'keepalive-timeout'
  | 'client-disabled'
  | 'session-taken-over'
  | 'unknown';

export type BrokerLogFact =
  | { kind: 'connected'; clientId: string; username?: string }
  | { kind: 'disconnected'; clientId: string; reason: DisconnectReason }
  | { kind: 'reloaded' }
  /** The broker (re)started: nobody is connected (a killed broker logs no disconnections). */
  | { kind: 'started' }
  /** A reload could not load the listener's certificates or CRL file: the broker may not enforce what was written. */
  | { kind: 'reload-failed'; detail: string };

const patterns: ReadonlyArray<[RegExp, (m: RegExpMatchArray) => BrokerLogFact]> = [
  [
    /New client connected from \S+ as (\S+) \((?:[^)]*?u'([^']*)')?[^)]*\)\.$/,
    (m) => ({ kind: 'connected', clientId: m[1]!, ...(m[2] !== undefined ? { username: m[2] } : {}) }),
  ],
  [
    /Client (\S+) already connected, closing old connection\.$/,
    (m) => ({ kind: 'disconnected', clientId: m[1]!, reason: 'session-taken-over' }),
  ],
  [
    /Client (\S+) been disconnected by administrative action\.$/,
    (m) => ({ kind: 'disconnected', clientId: m[1]!, reason: 'client-disabled' }),
  ],
  [
    /Client (\S+) has exceeded timeout, disconnecting\.$/,
    (m) => ({ kind: 'disconnected', clientId: m[1]!, reason: 'keepalive-timeout' }),
  ],
  [
    /Client (\S+) (?:disconnected|closed its connection)\.$/,
    (m) => ({ kind: 'disconnected', clientId: m[1]!, reason: 'client-closed' }),
  ],
  [
    /Socket error on client (\S+), disconnecting\.$/,
    (m) => ({ kind: 'disconnected', clientId: m[1]!, reason: 'unknown' }),
  ],
  [
    /Client (\S+) disconnected(?:, not authorised| due to .*|: .*)\.$/,
    (m) => ({ kind: 'disconnected', clientId: m[1]!, reason: 'unknown' }),
  ],
  [/Reloading config\.$/, () => ({ kind: 'reloaded' })],
  [/mosquitto version \S+ starting$/, () => ({ kind: 'started' })],
  [
    /(Error: Unable to load certificate revocation file .*|Error when reloading certificate .*)$/,
    (m) => ({ kind: 'reload-failed', detail: m[1]!.slice(0, 300) }),
  ],
];

/** One log line -> a fact, or undefined for lines that are not about connections (most). */
export function parseBrokerLogLine(line: string): BrokerLogFact | undefined {
  const text = line.trimEnd();
  for (const [pattern, build] of patterns) {
    const match = text.match(pattern);
    if (match) {
      const fact = build(match);
      if ('clientId' in fact && fact.clientId === '<unknown>') return undefined;
      return fact;
    }
  }
  return undefined;
}

/**
 * Follows a growing file from its current end, line by line (polling: works on every filesystem
 * and survives the file being recreated or truncated by log rotation).
 */
export class LogTail {
  #offset = 0;
  #partial = '';
  #timer: NodeJS.Timeout | undefined;
  /** Reads run one after the other (the timer's and explicit ones). */
  #reading: Promise<void> = Promise.resolve();
  #stopped = false;

  private constructor(
    private readonly path: string,
    private readonly onLine: (line: string) => void,
    private readonly intervalMs: number,
  ) {}

  static async follow(
    path: string,
    onLine: (line: string) => void,
    options: { intervalMs?: number; fromStart?: boolean } = {},
  ): Promise<LogTail> {
    const tail = new LogTail(path, onLine, options.intervalMs ?? 20);
    if (!options.fromStart) tail.#offset = await sizeOf(path);
    tail.#schedule();
    return tail;
  }

  /**
   * The complete lines the file holds now, its last `maxBytes` at most (a first line cut there is
   * dropped), and the offset they end at: what `followFrom` goes on from.
   */
  static async readUpToNow(path: string, maxBytes = 64 * 1024 * 1024): Promise<{ lines: string[]; end: number }> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch {
      return { lines: [], end: 0 };
    }
    try {
      const size = (await handle.stat()).size;
      const start = Math.max(0, size - maxBytes);
      const buffer = Buffer.alloc(size - start);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
      const text = buffer.subarray(0, bytesRead).toString('utf8');
      const complete = text.lastIndexOf('\n') + 1;
      const lines = text.slice(0, complete).split('\n').filter(Boolean);
      if (start > 0) lines.shift();
      return { lines, end: start + Buffer.byteLength(text.slice(0, complete)) };
    } finally {
      await handle.close();
    }
  }

  /** Follows the file from `offset` (what `readUpToNow` read up to). */
  static async followFrom(
    path: string,
    offset: number,
    onLine: (line: string) => void,
    intervalMs = 20,
  ): Promise<LogTail> {
    const tail = new LogTail(path, onLine, intervalMs);
    tail.#offset = offset;
    tail.#schedule();
    return tail;
  }

  /** Reads what was written since the last read, after any read in progress (tests, and to confirm a reload). */
  poll(): Promise<void> {
    this.#reading = this.#reading.then(() => this.#read());
    return this.#reading;
  }

  async #read(): Promise<void> {
    try {
      const size = await sizeOf(this.path);
      if (size < this.#offset) {
        this.#offset = 0;
        this.#partial = '';
      }
      if (size === this.#offset) return;
      const handle = await open(this.path, 'r');
      try {
        const buffer = Buffer.alloc(Math.min(size - this.#offset, 4 * 1024 * 1024));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.#offset);
        this.#offset += bytesRead;
        const text = this.#partial + buffer.subarray(0, bytesRead).toString('utf8');
        const lines = text.split('\n');
        this.#partial = lines.pop() ?? '';
        for (const line of lines) if (line) this.onLine(line);
      } finally {
        await handle.close();
      }
    } catch {
      // The file may be rotated away for a moment; the next poll finds it again.
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.poll().finally(() => this.#schedule()), this.intervalMs);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

/** One stat, not open + fstat + close: the tail asks every poll (50 times a second by default). */
async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
