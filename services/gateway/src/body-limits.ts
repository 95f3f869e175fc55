import type { IncomingMessage } from 'node:http';
import { commandRoutes } from './commands/command-routes.js';
import { BadRequest, TooLarge } from './errors.js';

/**
 * Routes whose bodies may be large (identity files; firmware images later). The app-wide parsers
 * leave them alone: their handlers read the body themselves, after the guard checked the token and
 * its role, so an unauthenticated client never gets a large body buffered.
 */
export const largeBodyRoutes: readonly string[] = [commandRoutes.ImportIdentities.path];

const largeRoutePatterns = largeBodyRoutes.map((path) => new RegExp(`^${path.replace(/\{[A-Za-z]+\}/g, '[^/]+')}/?$`));

export function isLargeBodyRoute(request: { method?: string; url?: string }): boolean {
  if (request.method !== 'POST') return false;
  const path = (request.url ?? '').split('?')[0]!;
  return largeRoutePatterns.some((pattern) => pattern.test(path));
}

/** `64kb`, `32mb`, `1048576` in bytes (the config checked the form). */
export function bytesOf(size: string | number): number {
  if (typeof size === 'number') return size;
  const match = /^(\d+)(b|kb|mb)?$/i.exec(size.trim());
  if (!match) throw new Error(`not a size: ${size}`);
  const unit = { b: 1, kb: 1024, mb: 1024 * 1024 }[(match[2] ?? 'b').toLowerCase() as 'b' | 'kb' | 'mb'];
  return Number(match[1]) * unit;
}

const jsonType = /^application\/(?:[a-z0-9.+-]*\+)?json\s*(?:;|$)/i;
const textType = /^text\/(?:csv|plain)\s*(?:;|$)/i;

/** Content-type checks for the app-wide parsers: JSON and CSV/text, never on a large-body route. */
export const smallJson = (request: IncomingMessage) =>
  !isLargeBodyRoute(request) && jsonType.test(String(request.headers['content-type'] ?? ''));
export const smallText = (request: IncomingMessage) =>
  !isLargeBodyRoute(request) && textType.test(String(request.headers['content-type'] ?? ''));

/**
 * Reads a request's body: at most `limit` bytes (refused at once when Content-Length says more, else
 * when the stream passes it), JSON or CSV/text, UTF-8, no encoding; none sent: undefined. A small
 * body is read before the guard (`configureHttp`), a large-body route's by its handler once authenticated.
 */
export async function readBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const type = String(request.headers['content-type'] ?? '');
  const json = jsonType.test(type);
  if (!json && !textType.test(type)) throw new BadRequest('send JSON (application/json) or CSV (text/csv)');
  const encoding = String(request.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') throw new BadRequest('a compressed request body is not accepted here');
  const declared = Number(request.headers['content-length'] ?? NaN);
  if (declared > limit) throw new TooLarge(`the request body is too large (at most ${limit} bytes)`);
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      // Stop reading (nothing more is buffered) and answer 413.
      request.off('data', onData);
      request.pause();
      chunks.length = 0;
      reject(new TooLarge(`the request body is too large (at most ${limit} bytes)`));
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
  const text = body.toString('utf8');
  if (text === '') return undefined;
  if (!json) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BadRequest('the request body is not valid JSON');
  }
}
