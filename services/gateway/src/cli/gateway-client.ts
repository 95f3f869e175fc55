/** The CLI's HTTP client: one request function, errors as a typed CliError with the exit code scripts rely on. */

export const exitCodes = { ok: 0, usage: 2, refused: 3, auth: 4, unavailable: 5 } as const;

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
    readonly body?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function exitCodeOfStatus(status: number): number {
  if (status === 401 || status === 403) return exitCodes.auth;
  if (status >= 500) return exitCodes.unavailable;
  return exitCodes.refused;
}

export interface GatewayClientOptions {
  url: string;
  token?: string;
  fetch?: typeof fetch;
}

export class GatewayClient {
  readonly #fetch: typeof fetch;
  constructor(private readonly options: GatewayClientOptions) {
    this.#fetch = options.fetch ?? fetch;
  }

  /** GET a stream of server-sent events (the gateway's /events), authenticated like any request. */
  async events(path: string): Promise<AsyncGenerator<ServerSentEvent>> {
    let response: Response;
    try {
      response = await this.#fetch(new URL(path, this.options.url), {
        headers: {
          accept: 'text/event-stream',
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
        },
      });
    } catch (error) {
      throw new CliError(`the gateway at ${this.options.url} cannot be reached`, exitCodes.unavailable, undefined, {
        cause: error,
      });
    }
    if (!response.ok || !response.body) {
      const text = await response.text();
      const parsed = text ? (safeJson(text) as { error?: { code?: string; message?: string } }) : undefined;
      throw new CliError(
        `${response.status} ${parsed?.error?.code ?? ''}: ${parsed?.error?.message ?? response.statusText}`,
        exitCodeOfStatus(response.status),
        parsed,
      );
    }
    return serverSentEvents(response.body);
  }

  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const isText = typeof body === 'string';
    const isBytes = body instanceof Uint8Array;
    let response: Response;
    try {
      response = await this.#fetch(new URL(path, this.options.url), {
        method,
        headers: {
          accept: 'application/json',
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
          ...(body !== undefined
            ? { 'content-type': isBytes ? 'application/octet-stream' : isText ? 'text/csv' : 'application/json' }
            : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: isText || isBytes ? body : JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new CliError(`the gateway at ${this.options.url} cannot be reached`, exitCodes.unavailable, undefined, {
        cause: error,
      });
    }
    const text = await response.text();
    const parsed = text ? safeJson(text) : undefined;
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
      const details = Array.isArray(error?.details)
        ? ` (${(error.details as { path?: string; message?: string }[]).map((d) => [d.path, d.message].filter(Boolean).join(' ')).join('; ')})`
        : '';
      throw new CliError(
        `${response.status} ${error?.code ?? ''}: ${error?.message ?? response.statusText}${details}`.replace(
          /\s+:/,
          ':',
        ),
        exitCodeOfStatus(response.status),
        parsed,
      );
    }
    return parsed as T;
  }
}

/** One server-sent event: its name and its JSON data. */
export interface ServerSentEvent {
  type: string;
  data: unknown;
}

/**
 * Server-sent events from a response body, as they arrive (`event:` and `data:` lines, a blank
 * line ends each; comments and `id:`/`retry:` lines skipped).
 */
export async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let type = 'message';
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, '');
      buffer = buffer.slice(end + 1);
      if (line === '') {
        if (data.length) yield { type, data: safeJson(data.join('\n')) };
        type = 'message';
        data = [];
      } else if (line.startsWith('event:')) type = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
