/**
 * Mosquitto's dynamic-security control API over MQTT: requests on `$CONTROL/dynamic-security/v1`,
 * answers on `.../response` (sent to the requesting client only). Each command carries its own
 * correlation data; many commands travel in one request, because the broker's cost is per request
 * (and it rewrites its whole JSON config after each one), not per command.
 */
import { randomBytes } from 'node:crypto';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { TargetUnreachableError } from '../errors.js';

export const dynsecRequestTopic = '$CONTROL/dynamic-security/v1';
export const dynsecResponseTopic = '$CONTROL/dynamic-security/v1/response';

export type AclType =
  | 'publishClientSend'
  | 'publishClientReceive'
  | 'subscribeLiteral'
  | 'subscribePattern'
  | 'unsubscribeLiteral'
  | 'unsubscribePattern';

export interface DynsecAcl {
  acltype: AclType;
  topic: string;
  allow: boolean;
  priority?: number;
}

/** The commands the onboarding service uses (Mosquitto 2.0 names and fields). */
export type DynsecCommand =
  | { command: 'createRole'; rolename: string; textname?: string; acls?: DynsecAcl[] }
  | { command: 'deleteRole'; rolename: string }
  | { command: 'addRoleACL'; rolename: string; acltype: AclType; topic: string; allow: boolean; priority?: number }
  /** With `acls`, replaces the role's whole ACL list in one command (what a policy change needs). */
  | { command: 'modifyRole'; rolename: string; acls: DynsecAcl[] }
  | { command: 'getRole'; rolename: string }
  | {
      command: 'createClient';
      username: string;
      clientid?: string;
      textname?: string;
      roles?: { rolename: string; priority?: number }[];
    }
  | { command: 'deleteClient'; username: string }
  | { command: 'addClientRole'; username: string; rolename: string; priority?: number }
  | { command: 'removeClientRole'; username: string; rolename: string }
  | { command: 'disableClient'; username: string }
  | { command: 'enableClient'; username: string }
  | { command: 'getClient'; username: string }
  | { command: 'listClients'; count?: number; offset?: number }
  | { command: 'getDefaultACLAccess' }
  | { command: 'setDefaultACLAccess'; acls: { acltype: DefaultAclType; allow: boolean }[] };

/** The kinds of access the broker's default ACL decides when no role of the client matches. */
export type DefaultAclType = 'publishClientSend' | 'publishClientReceive' | 'subscribe' | 'unsubscribe';

export interface DynsecResponse {
  command: string;
  /** Absent on success, e.g. `Client already exists`. */
  error?: string;
  data?: unknown;
}

export interface DynsecEndpoint {
  host: string;
  port: number;
  username: string;
  password: string;
  /** MQTT over TLS, the listener's certificate verified against this CA (and the host name). */
  tls?: { caPem: string };
}

/** mqtt.js options of an admin-side client (dynamic security, monitoring): plain MQTT, or TLS with verification. */
export function adminMqttOptions(endpoint: DynsecEndpoint, clientId: string): IClientOptions {
  return {
    protocol: endpoint.tls ? 'mqtts' : 'mqtt',
    host: endpoint.host,
    port: endpoint.port,
    ...(endpoint.tls ? { ca: endpoint.tls.caPem, rejectUnauthorized: true, servername: endpoint.host } : {}),
    username: endpoint.username,
    password: endpoint.password,
    clientId,
    protocolVersion: 5,
    connectTimeout: 5_000,
    reconnectPeriod: 1_000,
  };
}

export interface DynsecClientOptions {
  /** Commands per request. Default 200. */
  commandsPerRequest?: number;
  /** Requests in flight at once (the broker handles them in order). Default 4. */
  requestsInFlight?: number;
  /** How long the broker may stay silent on the oldest request, plus `perCommandMs` per command in it. Default 15 s. */
  timeoutMs?: number;
  /** Allowance per command: Mosquitto 2.0.11 rewrites its whole JSON config after each one, ~5 ms per 1,000 clients. Default 100 ms. */
  perCommandMs?: number;
}

export interface RequestClock {
  sentAt: number;
  commands: number;
}

/**
 * Whether the broker is overdue on the oldest unanswered request. It answers requests one after
 * another, so that request's clock starts at the later of its sending and the broker's last
 * answer: requests queued behind a slow one are not counted as late, and a broker that keeps
 * answering is never given up on, however big its config has grown.
 */
export function brokerOverdue(
  oldest: RequestClock,
  lastAnswerAt: number,
  now: number,
  allowance: { timeoutMs: number; perCommandMs: number },
): boolean {
  return now - Math.max(oldest.sentAt, lastAnswerAt) > allowance.timeoutMs + allowance.perCommandMs * oldest.commands;
}

interface Pending extends RequestClock {
  responses: (DynsecResponse | undefined)[];
  remaining: number;
  resolve: (responses: DynsecResponse[]) => void;
  reject: (error: Error) => void;
  keys: string[];
}

export class DynsecClient {
  readonly #pending = new Map<string, { request: Pending; index: number }>();
  /** Unanswered requests, oldest first. */
  readonly #requests = new Set<Pending>();
  readonly #commandsPerRequest: number;
  readonly #requestsInFlight: number;
  readonly #allowance: { timeoutMs: number; perCommandMs: number };
  #lastAnswerAt = 0;
  readonly #watchdog: NodeJS.Timeout;
  #sequence = 0;
  readonly #idPrefix = randomBytes(4).toString('hex');

  private constructor(
    private readonly client: MqttClient,
    private readonly endpoint: { host: string; port: number },
    options: DynsecClientOptions,
  ) {
    this.#commandsPerRequest = options.commandsPerRequest ?? 200;
    this.#requestsInFlight = options.requestsInFlight ?? 4;
    this.#allowance = { timeoutMs: options.timeoutMs ?? 15_000, perCommandMs: options.perCommandMs ?? 100 };
    client.on('message', (topic, payload) => {
      if (topic === dynsecResponseTopic) this.#onResponse(payload);
    });
    this.#watchdog = setInterval(() => this.#checkOverdue(), Math.min(1_000, this.#allowance.timeoutMs));
    this.#watchdog.unref();
  }

  static async connect(endpoint: DynsecEndpoint, options: DynsecClientOptions = {}): Promise<DynsecClient> {
    let client: MqttClient;
    try {
      client = await connectAsync(adminMqttOptions(endpoint, `tk-onboarding-admin-${randomBytes(6).toString('hex')}`));
      await client.subscribeAsync(dynsecResponseTopic, { qos: 1 });
    } catch (error) {
      // The message names host and port only: the credentials never enter an error.
      throw new TargetUnreachableError(
        `dynamic-security admin endpoint ${endpoint.host}:${endpoint.port} refused or did not answer`,
        { host: endpoint.host, port: endpoint.port },
        { cause: stripSecrets(error) },
      );
    }
    return new DynsecClient(client, endpoint, options);
  }

  /** Runs the commands (split into requests, a few in flight) and returns one response per command, in order. */
  async execute(
    commands: readonly DynsecCommand[],
    options: { commandsPerRequest?: number } = {},
  ): Promise<DynsecResponse[]> {
    const perRequest = Math.max(1, options.commandsPerRequest ?? this.#commandsPerRequest);
    const chunks: DynsecCommand[][] = [];
    for (let i = 0; i < commands.length; i += perRequest) chunks.push(commands.slice(i, i + perRequest));
    const results: DynsecResponse[][] = new Array(chunks.length);
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const index = next++;
        results[index] = await this.#request(chunks[index]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#requestsInFlight, chunks.length) }, worker));
    return results.flat();
  }

  #request(commands: readonly DynsecCommand[]): Promise<DynsecResponse[]> {
    if (commands.length === 0) return Promise.resolve([]);
    const requestId = `${this.#idPrefix}-${++this.#sequence}`;
    return new Promise<DynsecResponse[]>((resolve, reject) => {
      const keys = commands.map((_c, index) => `${requestId}:${index}`);
      const request: Pending = {
        sentAt: Date.now(),
        commands: commands.length,
        responses: new Array(commands.length),
        remaining: commands.length,
        resolve,
        reject,
        keys,
      };
      const payload = { commands: commands.map((command, index) => ({ ...command, correlationData: keys[index] })) };
      keys.forEach((key, index) => this.#pending.set(key, { request, index }));
      this.#requests.add(request);
      this.client.publish(dynsecRequestTopic, JSON.stringify(payload), { qos: 1 }, (error) => {
        if (error)
          this.#fail(
            request,
            new TargetUnreachableError('dynamic-security request could not be sent', this.endpoint, { cause: error }),
          );
      });
    });
  }

  #fail(request: Pending, error: Error): void {
    if (!this.#requests.delete(request)) return;
    request.keys.forEach((key) => this.#pending.delete(key));
    request.reject(error);
  }

  /** A broker silent on the oldest request past its allowance is stuck: every request waiting on it fails. */
  #checkOverdue(): void {
    const oldest = this.#requests.values().next().value;
    if (!oldest || !brokerOverdue(oldest, this.#lastAnswerAt, Date.now(), this.#allowance)) return;
    const waited = Math.round((Date.now() - Math.max(oldest.sentAt, this.#lastAnswerAt)) / 1000);
    for (const request of [...this.#requests]) {
      this.#fail(
        request,
        new TargetUnreachableError(
          `dynamic-security endpoint answered nothing for ${waited} s (oldest request: ${oldest.commands} commands)`,
          { ...this.endpoint, commands: request.commands },
        ),
      );
    }
  }

  #onResponse(payload: Buffer): void {
    let parsed: { responses?: (DynsecResponse & { correlationData?: string })[] };
    try {
      parsed = JSON.parse(payload.toString('utf8')) as typeof parsed;
    } catch {
      return;
    }
    this.#lastAnswerAt = Date.now();
    for (const response of parsed.responses ?? []) {
      const key = response.correlationData;
      const pending = key === undefined ? undefined : this.#pending.get(key);
      if (!pending || key === undefined) continue;
      this.#pending.delete(key);
      const { request, index } = pending;
      const { correlationData: _c, ...rest } = response;
      request.responses[index] = rest;
      if (--request.remaining === 0) {
        this.#requests.delete(request);
        request.resolve(request.responses as DynsecResponse[]);
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#watchdog);
    for (const request of [...this.#requests])
      this.#fail(request, new TargetUnreachableError('dynamic-security client closed', this.endpoint));
    this.#pending.clear();
    await this.client.endAsync(true);
  }
}

/** mqtt.js errors may echo connect options; keep only the message. */
function stripSecrets(error: unknown): Error {
  return new Error(error instanceof Error ? error.message.slice(0, 200) : 'connect failed');
}
