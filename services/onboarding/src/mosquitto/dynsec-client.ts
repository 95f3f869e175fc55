/**
 * Mosquitto's dynamic-security control API over MQTT: requests on `$CONTROL/dynamic-security/v1`,
 * answers on `.../response` (sent to the requesting client only). Each command carries its own
 * correlation data; many commands travel in one request, because the broker's cost is per request
 * (and it rewrites its whole JSON config after each one), not per command.
 */
import { randomBytes } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { TargetUnreachableError } from '../errors.js';

export const dynsecRequestTopic = '$CONTROL/dynamic-security/v1';
export const dynsecResponseTopic = '$CONTROL/dynamic-security/v1/response';

export type AclType = 'publishClientSend' | 'publishClientReceive' | 'subscribeLiteral' | 'subscribePattern' | 'unsubscribeLiteral' | 'unsubscribePattern';

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
  | { command: 'createClient'; username: string; clientid?: string; textname?: string; roles?: { rolename: string; priority?: number }[] }
  | { command: 'deleteClient'; username: string }
  | { command: 'addClientRole'; username: string; rolename: string; priority?: number }
  | { command: 'removeClientRole'; username: string; rolename: string }
  | { command: 'disableClient'; username: string }
  | { command: 'enableClient'; username: string }
  | { command: 'getClient'; username: string }
  | { command: 'listClients'; count?: number; offset?: number }
  | { command: 'getDefaultACLAccess' };

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
}

export interface DynsecClientOptions {
  /** Commands per request. Default 200. */
  commandsPerRequest?: number;
  /** Requests in flight at once (the broker handles them in order). Default 4. */
  requestsInFlight?: number;
  /** Per request, plus 25 ms per command (2.0.11 rewrites its whole config after each command). Default 15 s. */
  timeoutMs?: number;
}

interface Pending {
  responses: (DynsecResponse | undefined)[];
  remaining: number;
  resolve: (responses: DynsecResponse[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class DynsecClient {
  readonly #pending = new Map<string, { request: Pending; index: number }>();
  readonly #commandsPerRequest: number;
  readonly #requestsInFlight: number;
  readonly #timeoutMs: number;
  #sequence = 0;
  readonly #idPrefix = randomBytes(4).toString('hex');

  private constructor(
    private readonly client: MqttClient,
    private readonly endpoint: { host: string; port: number },
    options: DynsecClientOptions,
  ) {
    this.#commandsPerRequest = options.commandsPerRequest ?? 200;
    this.#requestsInFlight = options.requestsInFlight ?? 4;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    client.on('message', (topic, payload) => {
      if (topic === dynsecResponseTopic) this.#onResponse(payload);
    });
  }

  static async connect(endpoint: DynsecEndpoint, options: DynsecClientOptions = {}): Promise<DynsecClient> {
    let client: MqttClient;
    try {
      client = await connectAsync(`mqtt://${endpoint.host}:${endpoint.port}`, {
        username: endpoint.username,
        password: endpoint.password,
        clientId: `tk-onboarding-admin-${randomBytes(6).toString('hex')}`,
        protocolVersion: 5,
        connectTimeout: 5_000,
        reconnectPeriod: 1_000,
      });
      await client.subscribeAsync(dynsecResponseTopic, { qos: 1 });
    } catch (error) {
      // The message names host and port only: the credentials never enter an error.
      throw new TargetUnreachableError(`dynamic-security admin endpoint ${endpoint.host}:${endpoint.port} refused or did not answer`, { host: endpoint.host, port: endpoint.port }, { cause: stripSecrets(error) });
    }
    return new DynsecClient(client, endpoint, options);
  }

  /** Runs the commands (split into requests, a few in flight) and returns one response per command, in order. */
  async execute(commands: readonly DynsecCommand[], options: { commandsPerRequest?: number } = {}): Promise<DynsecResponse[]> {
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
      const request: Pending = {
        responses: new Array(commands.length),
        remaining: commands.length,
        resolve,
        reject,
        timer: setTimeout(() => {
          commands.forEach((_c, index) => this.#pending.delete(`${requestId}:${index}`));
          reject(new TargetUnreachableError(`dynamic-security request of ${commands.length} commands got no answer in time`, { ...this.endpoint, commands: commands.length }));
        }, this.#timeoutMs + 25 * commands.length),
      };
      const payload = { commands: commands.map((command, index) => ({ ...command, correlationData: `${requestId}:${index}` })) };
      commands.forEach((_c, index) => this.#pending.set(`${requestId}:${index}`, { request, index }));
      this.client.publish(dynsecRequestTopic, JSON.stringify(payload), { qos: 1 }, (error) => {
        if (!error) return;
        clearTimeout(request.timer);
        commands.forEach((_c, index) => this.#pending.delete(`${requestId}:${index}`));
        reject(new TargetUnreachableError('dynamic-security request could not be sent', this.endpoint, { cause: error }));
      });
    });
  }

  #onResponse(payload: Buffer): void {
    let parsed: { responses?: (DynsecResponse & { correlationData?: string })[] };
    try {
      parsed = JSON.parse(payload.toString('utf8')) as typeof parsed;
    } catch {
      return;
    }
    for (const response of parsed.responses ?? []) {
      const key = response.correlationData;
      const pending = key === undefined ? undefined : this.#pending.get(key);
      if (!pending || key === undefined) continue;
      this.#pending.delete(key);
      const { request, index } = pending;
      const { correlationData: _c, ...rest } = response;
      request.responses[index] = rest;
      if (--request.remaining === 0) {
        clearTimeout(request.timer);
        request.resolve(request.responses as DynsecResponse[]);
      }
    }
  }

  async close(): Promise<void> {
    for (const { request } of this.#pending.values()) clearTimeout(request.timer);
    this.#pending.clear();
    await this.client.endAsync(true);
  }
}

/** mqtt.js errors may echo connect options; keep only the message. */
function stripSecrets(error: unknown): Error {
  return new Error(error instanceof Error ? error.message.slice(0, 200) : 'connect failed');
}
