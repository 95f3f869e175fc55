// The gateway's HTTP API as the console uses it: the token from sessionStorage as a bearer, and
// failures as ApiError carrying the API's code and message.
import { describeError } from './logic.js';

const tokenKey = 'tunnelkey.token';

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {any} body
   */
  constructor(status, body) {
    const described = describeError(status, body);
    super(described.message);
    this.name = 'ApiError';
    this.status = status;
    this.code = described.code;
    this.title = described.title;
    this.details = described.details;
  }
}

export const session = {
  /** @returns {string | null} */
  get token() {
    return sessionStorage.getItem(tokenKey);
  },
  /** @param {string | null} token */
  set token(token) {
    if (token) sessionStorage.setItem(tokenKey, token);
    else sessionStorage.removeItem(tokenKey);
  },
  /** @type {{ name: string, role: string } | undefined} */
  principal: undefined,
  /** @type {any} the gateway's OpenAPI document */
  openapi: undefined,
};

/** Called on a 401: the app sends the operator back to the sign-in page. */
let onUnauthenticated = () => {};
/** @param {() => void} handler */
export function whenUnauthenticated(handler) {
  onUnauthenticated = handler;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {{ query?: Record<string, string | number | undefined>, body?: unknown, contentType?: string, token?: string }} [options]
 */
export async function request(method, path, options = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(options.query ?? {}))
    if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  const token = options.token ?? session.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body;
  if (options.body !== undefined) {
    headers['content-type'] = options.contentType ?? 'application/json';
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body });
  } catch {
    throw new ApiError(0, undefined);
  }
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 && !options.token) onUnauthenticated();
    throw error;
  }
  return parsed;
}

/** @param {string} path @param {Record<string, string | number | undefined>} [query] */
export const get = (path, query) => request('GET', path, { query });
/** @param {string} path @param {unknown} [body] @param {string} [contentType] */
export const post = (path, body, contentType) => request('POST', path, { body: body ?? {}, contentType });

/** Every item of a small list (policies, targets, batches for a drop-down), a page of 500 at a time, capped. */
export async function listAll(path, cap = 2_000) {
  const items = [];
  for (let offset = 0; offset < cap; offset += 500) {
    const page = await get(path, { limit: 500, offset });
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) break;
  }
  return items;
}
