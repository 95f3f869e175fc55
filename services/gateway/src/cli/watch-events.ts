/**
 * `tunnelkey watch`: the gateway's live events (GET /events, server-sent) as they happen, one line
 * each (`-o json`: one JSON object per line; `-o yaml`: one document each; `-o csv`: rows), until
 * Ctrl-C or `--count` events. `ping` keep-alives are not shown; `hello` goes to stderr.
 */
import { exitCodes, type GatewayClient, type ServerSentEvent } from './gateway-client.js';
import { toCsv, toYaml, type OutputFormat } from './output.js';

export const watchTypes = ['device', 'batch', 'devices-changed', 'catalog', 'fleet'] as const;

export interface WatchOptions {
  batchId?: string;
  /** Only the `device` events of these devices (nothing else is shown). */
  deviceIds?: readonly string[];
  /** Only these event types (default: all but ping). */
  types?: readonly string[];
  /** Stop after this many events shown. */
  count?: number;
  format: OutputFormat;
  headers: boolean;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  now?: () => Date;
}

type Data = Record<string, unknown>;

/** What an event is about and what changed, in a few words. */
export function describeEvent(event: ServerSentEvent): { subject: string; summary: string } {
  const data = (event.data ?? {}) as Data;
  switch (event.type) {
    case 'device':
      return {
        subject: String(data.deviceId),
        summary: [data.state, data.connection, `messages ${String(data.messagesTotal ?? 0)}`, data.problem]
          .filter(Boolean)
          .join(', '),
      };
    case 'batch': {
      const counts = Object.entries((data.counts ?? {}) as Record<string, number>)
        .filter(([, n]) => n > 0)
        .map(([state, n]) => `${state} ${n}`);
      return {
        subject: String(data.batchId),
        summary: [...counts, `connected ${String(data.connected ?? 0)}`].join(', '),
      };
    }
    case 'devices-changed':
      return {
        subject: ((data.batchIds ?? []) as string[]).join(' '),
        summary: `${String(data.count)} devices changed`,
      };
    default:
      return { subject: '', summary: JSON.stringify(data) };
  }
}

export async function watchEvents(client: GatewayClient, options: WatchOptions): Promise<number> {
  const query = options.batchId ? `?batchId=${encodeURIComponent(options.batchId)}` : '';
  const events = await client.events(`/events${query}`);
  const now = options.now ?? (() => new Date());
  let shown = 0;
  if (options.count === 0) return exitCodes.ok;
  for await (const event of events) {
    if (event.type === 'ping') continue;
    if (event.type === 'hello') {
      const hello = event.data as Data;
      options.stderr.write(`watching live events as ${String(hello.name)} (${String(hello.role)}); Ctrl-C stops\n`);
      continue;
    }
    if (options.types && !options.types.includes(event.type)) continue;
    if (
      options.deviceIds &&
      !(event.type === 'device' && options.deviceIds.includes(String((event.data as Data).deviceId)))
    )
      continue;
    const at = now().toISOString();
    const { subject, summary } = describeEvent(event);
    switch (options.format) {
      case 'json':
        options.stdout.write(`${JSON.stringify({ at, type: event.type, data: event.data })}\n`);
        break;
      case 'yaml':
        options.stdout.write(`---\n${toYaml({ at, type: event.type, data: event.data })}`);
        break;
      case 'csv':
        options.stdout.write(
          `${toCsv([{ at, type: event.type, subject, summary }], ['at', 'type', 'subject', 'summary'], options.headers && shown === 0)}\r\n`,
        );
        break;
      default:
        options.stdout.write(`${at.slice(11, 23)}  ${event.type.padEnd(15)}  ${subject.padEnd(20)}  ${summary}\n`);
    }
    if (options.count !== undefined && ++shown >= options.count) break;
  }
  return exitCodes.ok;
}
