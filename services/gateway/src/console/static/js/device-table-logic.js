// The device list's pure logic: its columns, the sort it asks the gateway for and the CSV export. No DOM, no fetch;
// unit-tested from console-logic.unit.spec.ts.
/**
 * @typedef {{ deviceId: string, batchId?: string, state: string, stateChangedAt?: string, connection: string,
 *   targets: { targetId: string, status: string, connected: boolean }[], messagesTotal: number,
 *   lastTelemetryAt?: string, certificate?: { serialNumber: string, notAfter: string }, problem?: string }} DeviceRow
 * @typedef {{ column: string, direction: 'asc' | 'desc' }} Sort
 */

/**
 * The list's columns in order: the header's label and, for a sortable column, the gateway's sort
 * field (GET /api/devices?sort=...): the whole filtered fleet is sorted there, not the page shown.
 * Targets and messages are summed over a device's targets and have no sort field.
 * @type {{ key: string, label: string, sortField?: string }[]}
 */
export const deviceColumns = [
  { key: 'device', label: 'Device', sortField: 'deviceId' },
  { key: 'batch', label: 'Batch', sortField: 'batchId' },
  { key: 'state', label: 'State', sortField: 'state' },
  { key: 'connection', label: 'Connection', sortField: 'connection' },
  { key: 'targets', label: 'Targets' },
  { key: 'messages', label: 'Messages' },
  { key: 'telemetry', label: 'Last telemetry', sortField: 'lastTelemetryAt' },
  { key: 'expires', label: 'Certificate expires', sortField: 'certificateNotAfter' },
];

/**
 * The sort a route asks for (`sort=state&order=desc`), or none for a column without a sort field.
 * @param {Record<string, string>} query
 * @returns {Sort | undefined}
 */
export function sortOf(query) {
  if (!deviceColumns.some((c) => c.key === query.sort && c.sortField)) return undefined;
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
 * The gateway's `sort` parameter for a column's sort (`state:desc`), undefined for the list's own order.
 * @param {Sort | undefined} sort
 * @returns {string | undefined}
 */
export function sortParam(sort) {
  const field = deviceColumns.find((c) => c.key === sort?.column)?.sortField;
  if (!field || !sort) return undefined;
  return sort.direction === 'desc' ? `${field}:desc` : field;
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
