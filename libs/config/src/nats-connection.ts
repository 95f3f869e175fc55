/**
 * How every tunnelkey process (services, the device fleet, tools) connects to NATS: the settings
 * (spread into each service's schema, so they appear in its README table) and the one function
 * that turns them into connection options. With no credentials and no TLS settings the options are
 * the loopback defaults of the unauthenticated dev server.
 */
import { readFile } from 'node:fs/promises';
import {
  credsAuthenticator,
  NatsConnectionImpl,
  nkeyAuthenticator,
  setTransportFactory,
  type ConnectionOptions,
  type NatsConnection,
  type TlsOptions,
} from '@nats-io/transport-node';
import { NodeTransport, nodeResolveHost } from '@nats-io/transport-node/lib/node_transport.js';
import { common, ConfigError, defineConfig, optionalText, urlsOf, type ConfigOf, type Env } from './config-schema.js';

/** The credential and TLS settings, without NATS_URL (each schema has `natsUrl: common.natsUrl`). */
export const natsConnectionSettings = {
  natsUser: optionalText('NATS_USER', 'NATS user (with NATS_PASSWORD); unset: no user/password'),
  natsPassword: optionalText('NATS_PASSWORD', 'Password of NATS_USER', { secret: true }),
  natsToken: optionalText('NATS_TOKEN', 'NATS authentication token (instead of a user)', { secret: true }),
  natsNkeySeedFile: optionalText('NATS_NKEY_SEED_FILE', 'File holding the NKey seed (`SU...`) of the NATS user'),
  natsCredsFile: optionalText('NATS_CREDS_FILE', 'NATS credentials file (user JWT and NKey seed)'),
  natsTlsCaFile: optionalText(
    'NATS_TLS_CA_FILE',
    'CA certificate (PEM) that signed the NATS server certificate; set: the connection must be TLS',
  ),
  natsTlsCertFile: optionalText(
    'NATS_TLS_CERT_FILE',
    'Client certificate (PEM) for mutual TLS, with NATS_TLS_KEY_FILE',
  ),
  natsTlsKeyFile: optionalText('NATS_TLS_KEY_FILE', 'Private key (PEM) of NATS_TLS_CERT_FILE'),
};

const natsSchema = defineConfig({ natsUrl: common.natsUrl, ...natsConnectionSettings });

/** What `natsConnectionOptions` needs: a service's configuration has all of it. */
export type NatsConnectionConfig = ConfigOf<typeof natsSchema.settings>;

/** The NATS settings alone, from the environment (tools, the fleet, `startService` without a connection). */
export function natsConnectionConfig(env: Env = process.env): NatsConnectionConfig {
  return natsSchema.read(env);
}

const refuse = (message: string, variable: string): never => {
  throw new ConfigError(message, { variable });
};

/**
 * Connection options from the configuration: servers, name, one way of authenticating (user and
 * password, token, NKey seed file or creds file) and TLS. Contradictory settings throw ConfigError
 * naming the variable, never a value; unreadable files throw ConfigError naming the variable.
 */
export async function natsConnectionOptions(
  config: NatsConnectionConfig,
  options: { name: string; servers?: string },
): Promise<ConnectionOptions> {
  const methods = [
    config.natsUser !== undefined || config.natsPassword !== undefined ? 'NATS_USER' : undefined,
    config.natsToken !== undefined ? 'NATS_TOKEN' : undefined,
    config.natsNkeySeedFile !== undefined ? 'NATS_NKEY_SEED_FILE' : undefined,
    config.natsCredsFile !== undefined ? 'NATS_CREDS_FILE' : undefined,
  ].filter((method) => method !== undefined);
  if (methods.length > 1) refuse(`set one of ${methods.join(', ')}, not several`, methods[1]!);
  if (config.natsUser !== undefined && config.natsPassword === undefined)
    refuse('NATS_USER needs NATS_PASSWORD', 'NATS_PASSWORD');
  if (config.natsPassword !== undefined && config.natsUser === undefined)
    refuse('NATS_PASSWORD needs NATS_USER', 'NATS_USER');
  if ((config.natsTlsCertFile === undefined) !== (config.natsTlsKeyFile === undefined))
    refuse('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together', 'NATS_TLS_KEY_FILE');

  // Every server of a cluster (NATS_URL=a,b,c): the client starts on any that answers and fails over.
  const connection: ConnectionOptions = { servers: urlsOf(options.servers ?? config.natsUrl), name: options.name };
  if (config.natsUser !== undefined) {
    connection.user = config.natsUser;
    connection.pass = config.natsPassword;
  }
  if (config.natsToken !== undefined) connection.token = config.natsToken;
  if (config.natsNkeySeedFile !== undefined) {
    const seed = (await readSetting(config.natsNkeySeedFile, 'NATS_NKEY_SEED_FILE')).toString('utf8').trim();
    connection.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (config.natsCredsFile !== undefined)
    connection.authenticator = credsAuthenticator(await readSetting(config.natsCredsFile, 'NATS_CREDS_FILE'));
  const tls: TlsOptions = {};
  if (config.natsTlsCaFile !== undefined)
    tls.ca = (await readSetting(config.natsTlsCaFile, 'NATS_TLS_CA_FILE')).toString();
  if (config.natsTlsCertFile !== undefined && config.natsTlsKeyFile !== undefined) {
    tls.cert = (await readSetting(config.natsTlsCertFile, 'NATS_TLS_CERT_FILE')).toString();
    tls.key = (await readSetting(config.natsTlsKeyFile, 'NATS_TLS_KEY_FILE')).toString();
  }
  if (Object.keys(tls).length > 0) connection.tls = tls;
  return connection;
}

async function readSetting(path: string, variable: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`${variable} names a file that cannot be read (${code})`, { variable });
  }
}

/*
 * Opening the connection: nats.js's node transport, with the writes
 * of one event-loop turn coalesced into one socket write.
 *
 * Why: nats.js flushes its outbound buffer in a microtask after the first message queued, so a
 * service whose messages come out of separate async steps (a signature, an append acknowledged, a
 * reply) writes each message on its own: one system call, and on loopback the server's receive
 * work, per message. The socket is corked at the first write of a turn and uncorked once the
 * turn's I/O is done (setImmediate), so it flushes everything queued meanwhile at once. Measured
 * in `npm run bench:provision` (2,000 devices): the platform's CPU per device fell by 16 % (7.0 to
 * 5.9 ms) and the devices' by 7 %. A message waits at most until the end of the current turn.
 */
class CoalescingTransport extends NodeTransport {
  #corked = false;

  override send(frame: Uint8Array): void {
    const socket = this.socket;
    if (socket && !this.#corked && !socket.destroyed) {
      this.#corked = true;
      socket.cork();
      setImmediate(() => {
        this.#corked = false;
        socket.uncork();
      });
    }
    super.send(frame);
  }
}

/**
 * How a connection rides out the bus going away (a restart, a rescheduled pod, a network pause):
 * it keeps trying, once a second with some jitter, for as long as it takes. nats.js's own default
 * gives up after 10 attempts 2 s apart, which would leave a service disconnected for good after a
 * 20-second outage; its subscriptions are restored on reconnect.
 */
export const RECONNECT_OPTIONS = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 1_000,
  reconnectJitter: 500,
} as const satisfies ConnectionOptions;

/**
 * nats.js builds an Error (a stack trace) for every request and every timer it arms, up front, so
 * that a failure can point at its caller. Every JetStream append is a request: measured in
 * `npm run bench:onboard` (10,000 devices), building those errors took 7.4 % of the main thread.
 * Failures keep their message and cause; only the caller's frames in their stack go.
 */
export const TRACE_OPTIONS = { noAsyncTraces: true } as const satisfies ConnectionOptions;

/**
 * Connects like `connect` from @nats-io/transport-node (same options, reconnecting without limit
 * and without async traces unless told otherwise), with coalesced writes.
 */
export function connectNats(options: ConnectionOptions = {}): Promise<NatsConnection> {
  // The factory is global to nats.js and read at every dial (reconnects too): set it for each connection.
  setTransportFactory({ factory: () => new CoalescingTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect({ ...RECONNECT_OPTIONS, ...TRACE_OPTIONS, ...options });
}
