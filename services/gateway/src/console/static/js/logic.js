// The console's pure logic: no DOM, no fetch. Unit-tested from console-logic.unit.spec.ts.

/** Roles in increasing power, as the gateway orders them. */
export const roles = /** @type {const} */ (['viewer', 'operator', 'admin']);

/** Device states in lifecycle order: the order of the batch progress bar and the filters. */
export const deviceStates = ['Announced', 'Imported', 'Verified', 'Certified', 'Onboarded', 'Transferred', 'Revoked'];
export const connectionStates = ['never', 'connected', 'disconnected'];

/**
 * @param {string | undefined} held
 * @param {string} required
 * @returns {boolean}
 */
export function allows(held, required) {
  const have = roles.indexOf(/** @type {any} */ (held));
  return have >= 0 && have >= roles.indexOf(/** @type {any} */ (required));
}

/**
 * The least role a route needs, from the gateway's OpenAPI document (`x-required-role`), so the
 * console hides exactly what the API would refuse.
 * @param {any} doc OpenAPI document
 * @param {string} method lower-case HTTP method
 * @param {string} path OpenAPI path, e.g. `/api/devices/{deviceId}/revocation`
 * @returns {string} a role; `admin` when the document does not say (fail closed)
 */
export function requiredRole(doc, method, path) {
  const role = doc?.paths?.[path]?.[method]?.['x-required-role'];
  return typeof role === 'string' ? role : 'admin';
}

/**
 * The allowed values of a JSON Schema (`enum`, or a union of `const`s as TypeBox writes literals).
 * @param {any} schema
 * @returns {string[]}
 */
export function enumOf(schema) {
  if (!schema || typeof schema !== 'object') return [];
  if (Array.isArray(schema.enum)) return schema.enum.map(String);
  if ('const' in schema) return [String(schema.const)];
  const union = schema.anyOf ?? schema.oneOf;
  return Array.isArray(union) ? union.flatMap(enumOf) : [];
}

/**
 * Allowed values of one field of a command's JSON body in the OpenAPI document, e.g. the revocation
 * reasons: the drop-downs follow the contracts instead of a copy of them.
 * @param {any} doc
 * @param {string} path
 * @param {string[]} field property path inside the body, e.g. ['reason'] or ['topicRights', 'access']
 * @param {string[]} fallback
 * @returns {string[]}
 */
export function bodyEnum(doc, path, field, fallback = []) {
  let schema = doc?.paths?.[path]?.post?.requestBody?.content?.['application/json']?.schema;
  for (const key of field) {
    if (schema?.type === 'array' || schema?.items) schema = schema.items;
    schema = schema?.properties?.[key];
  }
  if (schema?.items) schema = schema.items;
  const values = enumOf(schema);
  return values.length ? values : fallback;
}

/**
 * A readable sentence for an API failure: the API's `{ error: { code, message, details } }`, with
 * the failing fields or rows named when the API names them.
 * @param {number} status
 * @param {any} body
 * @returns {{ title: string, message: string, code: string, details: string[] }}
 */
export function describeError(status, body) {
  const error = body && typeof body === 'object' ? body.error : undefined;
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${status}`;
  const fallback = {
    0: 'The gateway could not be reached. Check that it is running.',
    401: 'Your token is not valid (or was revoked). Sign in again.',
    403: 'Your token’s role does not allow this.',
    404: 'Not found.',
    413: 'The file is too large for one request.',
    503: 'A platform service did not answer. Try again in a moment.',
  };
  const message =
    typeof error?.message === 'string' && error.message
      ? error.message
      : (fallback[/** @type {keyof typeof fallback} */ (status)] ?? `The request failed (${status}).`);
  const titles = {
    0: 'Gateway unreachable',
    400: 'Please check the input',
    401: 'Not signed in',
    403: 'Not allowed',
    404: 'Not found',
    409: 'Conflict',
    413: 'Too large',
    422: 'Refused',
    503: 'Service unavailable',
  };
  const title = titles[/** @type {keyof typeof titles} */ (status)] ?? 'Something went wrong';
  const details = Array.isArray(error?.details)
    ? error.details.slice(0, 10).map((/** @type {any} */ d) => {
        if (typeof d !== 'object' || d === null) return String(d);
        const where = d.row !== undefined ? `row ${d.row}` : d.path ? String(d.path) : '';
        const what = d.message ?? d.reason ?? '';
        return [where, what].filter(Boolean).join(': ');
      })
    : [];
  return { title, message, code, details: details.filter(Boolean) };
}

/**
 * @param {string | undefined} iso
 * @returns {string} `2025-03-01 14:02:11 UTC`, or an em dash
 */
export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '—';
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * @param {string | undefined} iso
 * @param {number} now epoch ms
 * @returns {string} `just now`, `5 min ago`, `in 364 days`
 */
export function relativeTime(iso, now) {
  if (!iso) return '—';
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return '—';
  const abs = Math.abs(ms);
  if (abs < 10_000) return 'just now';
  const units = /** @type {const} */ ([
    ['day', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1_000],
  ]);
  const [unit, size] = units.find(([, s]) => abs >= s) ?? units[3];
  const n = Math.floor(abs / size);
  const text = unit === 'day' ? `${n} day${n === 1 ? '' : 's'}` : `${n} ${unit}`;
  return ms < 0 ? `${text} ago` : `in ${text}`;
}

/** @param {number} n */
export function formatCount(n) {
  return Number(n ?? 0).toLocaleString('en-US');
}

/**
 * `1–50 of 10,000` for a page of the API.
 * @param {{ total: number, offset: number, items: unknown[] }} page
 */
export function pageLabel(page) {
  if (!page.total) return 'none';
  return `${formatCount(page.offset + 1)}–${formatCount(page.offset + page.items.length)} of ${formatCount(page.total)}`;
}

/**
 * Segments of a batch's progress bar: devices per state as a share of the batch (devices seen,
 * or the expected size when larger), in lifecycle order, empty states left out.
 * @param {{ counts: Record<string, number>, devices: number, expectedSize: number }} batch
 * @returns {{ state: string, count: number, percent: number }[]}
 */
export function progressSegments(batch) {
  const whole = Math.max(batch.devices ?? 0, batch.expectedSize ?? 0, 1);
  return deviceStates
    .map((state) => ({ state, count: batch.counts?.[state] ?? 0 }))
    .filter((s) => s.count > 0)
    .map((s) => ({ ...s, percent: Math.round((s.count / whole) * 1000) / 10 }));
}

/**
 * The step a batch is at, in words an operator understands, and the next button to press.
 * @param {{ counts: Record<string, number>, devices: number, expectedSize: number }} batch
 * @returns {{ summary: string, next: 'import' | 'verify' | 'certify' | 'onboard' | undefined }}
 */
export function batchStage(batch) {
  const c = batch.counts ?? {};
  const n = (/** @type {string} */ s) => c[s] ?? 0;
  if (!batch.devices) return { summary: 'Waiting for an identity file', next: 'import' };
  if (n('Imported') > 0) return { summary: `${formatCount(n('Imported'))} to verify`, next: 'verify' };
  if (n('Verified') > 0) return { summary: `${formatCount(n('Verified'))} to certify`, next: 'certify' };
  if (n('Certified') > 0) return { summary: `${formatCount(n('Certified'))} to onboard`, next: 'onboard' };
  if (n('Onboarded') > 0) return { summary: 'Onboarded', next: undefined };
  return { summary: `${formatCount(batch.devices)} devices`, next: undefined };
}

/**
 * A hash route: `#/devices?batchId=b1&state=Certified` -> { name: 'devices', id: undefined, query }.
 * `#/devices/d-1` -> { name: 'device', id: 'd-1' }.
 * @param {string} hash
 * @returns {{ name: string, id?: string, query: Record<string, string> }}
 */
export function parseRoute(hash) {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const query = Object.fromEntries(new URLSearchParams(search));
  const [first = 'batches', second] = parts;
  if (first === 'devices' && second) return { name: 'device', id: second, query };
  return { name: first, query };
}

/**
 * @param {string} path e.g. `/devices`
 * @param {Record<string, string | number | undefined>} [query] empty values left out
 */
export function routeHash(path, query = {}) {
  const entries = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== '' && v !== null)
    .map(([k, v]) => [k, String(v)]);
  const search = new URLSearchParams(entries).toString();
  return `#${path}${search ? `?${search}` : ''}`;
}

/**
 * An id the API accepts (`^[A-Za-z0-9_-]{1,128}$`) from a human name, with a short suffix so two
 * batches both named "Fridges" do not collide.
 * @param {string} name
 * @param {string} suffix
 */
export function idFromName(name, suffix) {
  const slug = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100);
  return [slug || 'item', suffix].filter(Boolean).join('-');
}

/**
 * How to send an identity file: JSON when it is JSON (by name or by its first character), else CSV.
 * @param {string} fileName
 * @param {string} text
 * @returns {'application/json' | 'text/csv'}
 */
export function identityFileType(fileName, text) {
  if (/\.json$/i.test(fileName)) return 'application/json';
  if (/\.csv$/i.test(fileName)) return 'text/csv';
  return /^\s*[[{]/.test(text) ? 'application/json' : 'text/csv';
}

/**
 * `keyCompromise` -> `Key compromise`, `cACompromise` -> `CA compromise`.
 * @param {string} value
 */
export function humanize(value) {
  const words = value
    .replace(/^cA/, 'CA')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter(Boolean);
  // Acronyms stay as they are; the first word is capitalised, the rest lower case.
  return words
    .map((w, i) =>
      /^[A-Z]{2,}$/.test(w) ? w : i === 0 ? w.charAt(0).toUpperCase() + w.slice(1).toLowerCase() : w.toLowerCase(),
    )
    .join(' ');
}

/**
 * One line about an event of a device's history, for the timeline.
 * @param {{ type: string, data?: any }} event
 * @returns {string}
 */
export function eventSummary(event) {
  const d = event.data ?? {};
  switch (event.type) {
    case 'DeviceIdentityImported':
      return `Imported into batch ${d.batchId ?? ''}`.trim();
    case 'IdentityVerified':
      return 'Identity verified (enrolment key proved)';
    case 'IdentityVerificationFailed':
      return `Verification failed: ${d.reason ?? 'unknown reason'}`;
    case 'CertificateIssued':
      return `Certificate issued, serial ${d.serialNumber ?? ''}`.trim();
    case 'DeviceCertified':
      return 'Certified';
    case 'DeviceOnboarded':
      return `Onboarded to ${d.targetId ?? 'a target'}`;
    case 'DeviceConnected':
      return `Connected to ${d.targetId ?? 'a target'}${d.tlsProtocol ? ` (${d.tlsProtocol})` : ''}`;
    case 'DeviceDisconnected':
      return `Disconnected from ${d.targetId ?? 'a target'}${d.reason ? `: ${d.reason}` : ''}`;
    case 'TelemetryReceived':
      return d.kind === 'first'
        ? `First telemetry on ${d.topic ?? d.lastTopic ?? 'its topic'}`
        : `Telemetry: ${formatCount(d.messagesTotal ?? d.messages ?? 0)} messages`;
    case 'CertificateRevoked':
      return `Certificate revoked (${humanize(String(d.reason ?? 'unspecified'))})`;
    case 'DeviceRevoked':
      return `Revoked (${humanize(String(d.reason ?? 'unspecified'))})`;
    default:
      return humanize(event.type);
  }
}

/**
 * The timeline's lines: each event with its summary, except that a run of periodic telemetry
 * counters becomes one line (the latest), so months of counters do not bury the lifecycle.
 * @template {{ type: string, data?: any, occurredAt: string }} E
 * @param {E[]} events in order
 * @returns {(E & { summary: string, folded: number })[]}
 */
export function foldTimeline(events) {
  /** @type {(E & { summary: string, folded: number })[]} */
  const lines = [];
  for (const event of events) {
    const last = lines.at(-1);
    const periodic = event.type === 'TelemetryReceived' && event.data?.kind !== 'first';
    if (periodic && last && last.type === 'TelemetryReceived' && last.data?.kind !== 'first') {
      const folded = last.folded + 1;
      lines[lines.length - 1] = { ...event, folded, summary: `${eventSummary(event)} (${folded} updates)` };
    } else lines.push({ ...event, folded: 1, summary: eventSummary(event) });
  }
  return lines;
}
