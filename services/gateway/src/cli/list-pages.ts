/**
 * Lists as the CLI reads them: one page (`--limit`, `--offset`), or every page with `--all`; never
 * cut silently: `moreNote` says what was left out and how to get it.
 */
import type { GatewayClient } from './gateway-client.js';

/** The gateway's largest page. */
export const maxPage = 500;

export interface ListRequest {
  /** Read every page from `offset` on. */
  all?: boolean;
  limit?: number;
  offset?: number;
}

export interface Listed<T> {
  items: T[];
  total: number;
  offset: number;
  /**
   * The gateway's answer with every page's items in it (what -o json/yaml print): one page is
   * exactly what the route answered; with --all, `limit` is the count read.
   */
  body: Record<string, unknown>;
}

/**
 * GET `path` with `query` plus limit/offset, page after page while `all`. `key` names the array in
 * the answer (`items`; a device's history answers `events`).
 */
export async function readList<T>(
  client: GatewayClient,
  path: string,
  query: URLSearchParams,
  request: ListRequest,
  key = 'items',
): Promise<Listed<T>> {
  const first = request.offset ?? 0;
  const items: T[] = [];
  let total = 0;
  let body: Record<string, unknown> = {};
  for (let offset = first; ; ) {
    const limit = request.all ? maxPage : (request.limit ?? maxPage);
    const page = new URLSearchParams(query);
    page.set('limit', String(limit));
    page.set('offset', String(offset));
    const answer = await client.request<Record<string, unknown> & { total: number }>('GET', `${path}?${page}`);
    const got = (answer[key] ?? []) as T[];
    if (offset === first) body = answer;
    items.push(...got);
    total = answer.total;
    offset += got.length;
    if (!request.all || got.length === 0 || offset >= total) break;
  }
  return {
    items,
    total,
    offset: first,
    body: request.all ? { ...body, [key]: items, total, limit: items.length, offset: first } : body,
  };
}

/** Empty when the list is whole; else which ones were shown and the flags for the rest. */
export function moreNote(listed: Listed<unknown>, noun: string): string {
  const end = listed.offset + listed.items.length;
  if (end >= listed.total) return '';
  return `${listed.offset + 1}-${end} of ${listed.total} ${noun} shown: --all for every one, --offset ${end} for the next page\n`;
}
