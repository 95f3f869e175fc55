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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
