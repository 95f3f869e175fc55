// The device list's pure logic: its columns, sorting and the CSV export. No DOM, no fetch;
// unit-tested from console-logic.unit.spec.ts.
import { connectionStates, deviceStates } from './logic.js';

/**
 * @typedef {{ deviceId: string, batchId?: string, state: string, stateChangedAt?: string, connection: string,
 *   targets: { targetId: string, status: string, connected: boolean }[], messagesTotal: number,
 *   lastTelemetryAt?: string, certificate?: { serialNumber: string, notAfter: string }, problem?: string }} DeviceRow
 * @typedef {{ column: string, direction: 'asc' | 'desc' }} Sort
 */

/** Rank of a value in a fixed order (lifecycle, connection), so sorting follows it, not the alphabet. */
const rank = (/** @type {string[]} */ order) => (/** @type {string} */ value) => {
  const i = order.indexOf(value);
  return i < 0 ? undefined : i;
};
const time = (/** @type {string | undefined} */ iso) => (iso ? Date.parse(iso) : undefined);

/**
 * The list's columns in order: the header's label and the value a column sorts by (undefined sorts last).
 * @type {{ key: string, label: string, value: (d: DeviceRow) => string | number | undefined }[]}
 */
export const deviceColumns = [
  { key: 'device', label: 'Device', value: (d) => d.deviceId },
  { key: 'batch', label: 'Batch', value: (d) => d.batchId },
  { key: 'state', label: 'State', value: (d) => rank(deviceStates)(d.state) },
  { key: 'connection', label: 'Connection', value: (d) => rank(connectionStates)(d.connection) },
  { key: 'targets', label: 'Targets', value: (d) => d.targets.length },
  { key: 'messages', label: 'Messages', value: (d) => d.messagesTotal },
  { key: 'telemetry', label: 'Last telemetry', value: (d) => time(d.lastTelemetryAt) },
  { key: 'expires', label: 'Certificate expires', value: (d) => time(d.certificate?.notAfter) },
];

/**
 * The sort a route asks for (`sort=messages&order=desc`), or none for an unknown column.
 * @param {Record<string, string>} query
 * @returns {Sort | undefined}
 */
export function sortOf(query) {
  if (!deviceColumns.some((c) => c.key === query.sort)) return undefined;
  return { column: query.sort, direction: query.order === 'desc' ? 'desc' : 'asc' };
}

/**
 * A click on a column's header: ascending first, then descending, then back to the list's own order.
 * @param {Sort | undefined} current
 * @param {string} column
 * @returns {Sort | undefined}
 */
export function nextSort(current, column) {
  if (current?.column !== column) return { column, direction: 'asc' };
  return current.direction === 'asc' ? { column, direction: 'desc' } : undefined;
}

/**
 * The rows in the column's order; rows without a value last whichever the direction, ties in the
 * device id's order, so the same rows always come out the same.
 * @template {DeviceRow} D
 * @param {D[]} devices
 * @param {Sort | undefined} sort
 * @returns {D[]}
 */
export function sortDevices(devices, sort) {
  const column = deviceColumns.find((c) => c.key === sort?.column);
  if (!column || !sort) return [...devices];
  const sign = sort.direction === 'desc' ? -1 : 1;
  return [...devices].sort((a, b) => {
    const x = column.value(a);
    const y = column.value(b);
    if (x === y) return a.deviceId.localeCompare(b.deviceId);
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return sign * order || a.deviceId.localeCompare(b.deviceId);
  });
}

/** The export's columns: what the list shows, as values a spreadsheet or a script reads. */
const csvColumns = /** @type {const} */ ([
  ['deviceId', (/** @type {DeviceRow} */ d) => d.deviceId],
  ['batchId', (/** @type {DeviceRow} */ d) => d.batchId],
  ['state', (/** @type {DeviceRow} */ d) => d.state],
  ['stateChangedAt', (/** @type {DeviceRow} */ d) => d.stateChangedAt],
  ['connection', (/** @type {DeviceRow} */ d) => d.connection],
  ['targets', (/** @type {DeviceRow} */ d) => d.targets.map((t) => `${t.targetId}:${t.status}`).join(' ')],
  ['messagesTotal', (/** @type {DeviceRow} */ d) => d.messagesTotal],
  ['lastTelemetryAt', (/** @type {DeviceRow} */ d) => d.lastTelemetryAt],
  ['certificateSerial', (/** @type {DeviceRow} */ d) => d.certificate?.serialNumber],
  ['certificateNotAfter', (/** @type {DeviceRow} */ d) => d.certificate?.notAfter],
  ['problem', (/** @type {DeviceRow} */ d) => d.problem],
]);

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text a spreadsheet
 * would run as a formula (=, +, @, or - before a letter) gets a leading apostrophe.
 * @param {unknown} value
 */
export function csvField(value) {
  if (value === undefined || value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+@\t\r]|^-[^0-9]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The devices as CSV: a header line, then one line per device, CRLF line ends.
 * @param {DeviceRow[]} devices
 */
export function devicesCsv(devices) {
  const lines = [
    csvColumns.map(([name]) => name).join(','),
    ...devices.map((d) => csvColumns.map(([, value]) => csvField(value(d))).join(',')),
  ];
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * `devices-b1-connected-2025-03-01T12-00-00Z.csv`: the filters it was taken with, and when.
 * @param {Record<string, string | undefined>} filters
 * @param {number} now epoch ms
 */
export function exportFileName(filters, now) {
  const parts = ['batchId', 'state', 'connection', 'targetId', 'q']
    .map((name) => filters[name])
    .filter((v) => v !== undefined && v !== '');
  const at = new Date(now).toISOString().slice(0, 19).replace(/:/g, '-');
  return `${['devices', ...parts].join('-')}-${at}Z.csv`;
}
