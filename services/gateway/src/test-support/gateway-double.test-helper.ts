import type { CliIo } from '../cli/run-cli.js';

/** One request the CLI made of the gateway double. */
export interface GatewayCall {
  method: string;
  /** Path and query string. */
  path: string;
  /** JSON bodies parsed; a streamed body (an image upload) as given. */
  body: unknown;
  contentType: string | undefined;
  idempotencyKey: string | undefined;
}

/**
 * The CLI against a gateway double: it records every request and answers each with `answer`'s
 * JSON (status 200), as the real routes do. What the CLI printed is in `out()` and `err()`.
 */
export function cliWithGatewayDouble(
  answer: (call: GatewayCall) => unknown = () => ({ commandId: 'c-1', result: {} }),
  env: Record<string, string> = {},
) {
  const calls: GatewayCall[] = [];
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: { TUNNELKEY_URL: 'http://gateway.test', TUNNELKEY_TOKEN: 'tk_test', ...env },
    pollMs: 1,
    fetch: (async (input: URL | string, init?: RequestInit) => {
      const url = new URL(String(input));
      const headers = (init?.headers ?? {}) as Record<string, string>;
      const call: GatewayCall = {
        method: init?.method ?? 'GET',
        path: `${url.pathname}${url.search}`,
        body: typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : init?.body,
        contentType: headers['content-type'],
        idempotencyKey: headers['idempotency-key'],
      };
      calls.push(call);
      return new Response(JSON.stringify(answer(call)), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }) as typeof fetch,
  };
  return { io, calls, out: () => out, err: () => err };
}
