import { randomBytes } from 'node:crypto';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connectNats } from '@tunnelkey/config';
import type { NatsConnection } from '@nats-io/transport-node';

export interface NatsFixture {
  /** The server used (NATS_URL, default nats://127.0.0.1:4222). */
  readonly url: string;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  /** Unique per fixture: prefix of every stream (`<NS>_...`), subject (`<ns>.`) and KV bucket. */
  readonly namespace: string;
  /** A fresh namespace under this one (`<ns>_<n>`), cleaned up with it: one per test. */
  subNamespace(): string;
  /** Connect, check JetStream answers. Call in beforeAll. */
  setup(): Promise<void>;
  /** Delete every stream and KV bucket under the namespace, close the connection. Call in afterAll. */
  teardown(): Promise<void>;
}

/**
 * A real NATS server for integration tests, isolated by namespace. There is no Docker engine in CI
 * here, so it uses the server already running on NATS_URL rather than starting one.
 *
 * ```ts
 * const nats = natsFixture();
 * beforeAll(() => nats.setup());
 * afterAll(() => nats.teardown());
 * ```
 */
export function natsFixture(options: { url?: string; prefix?: string } = {}): NatsFixture {
  const url = options.url ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  const namespace = `${options.prefix ?? 't'}${randomBytes(4).toString('hex')}`;
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  let subs = 0;
  const must = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('natsFixture: call setup() (in beforeAll) first');
    return value;
  };
  return {
    url,
    namespace,
    get nc() {
      return must(nc);
    },
    get jsm() {
      return must(jsm);
    },
    subNamespace: () => `${namespace}_${++subs}`,
    async setup() {
      try {
        nc = await connectNats({ servers: url, name: `test-${namespace}` });
        jsm = await jetstreamManager(nc);
      } catch (error) {
        throw new Error(`natsFixture: no NATS with JetStream at ${url} (set NATS_URL)`, { cause: error });
      }
    },
    async teardown() {
      if (!nc || !jsm) return;
      const prefix = `${namespace.toUpperCase()}_`;
      // KV buckets are streams named KV_<bucket>.
      for await (const name of jsm.streams.names()) {
        if (name.startsWith(prefix) || name.startsWith(`KV_${prefix}`) || name.startsWith(`OBJ_${prefix}`))
          await jsm.streams.delete(name);
      }
      await nc.drain();
      nc = undefined;
      jsm = undefined;
    },
  };
}
