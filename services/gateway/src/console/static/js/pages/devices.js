// Devices: filtered and paged by the gateway (only the visible page is ever fetched, so 10,000
// devices cost what 50 do), with live state, connection and telemetry from the event stream.
import { get, listAll } from '../api.js';
import { field, h, replaceChildren, select } from '../dom.js';
import {
  connectionStates,
  deviceStates,
  formatCount,
  formatTime,
  pageLabel,
  relativeTime,
  routeHash,
} from '../logic.js';
import { coalesced, connectionBadge, notices, stateBadge } from '../ui.js';

const filterNames = ['batchId', 'state', 'connection', 'targetId', 'q'];
const pageSizes = ['25', '50', '100', '250'];

/** @param {import('../app.js').PageContext} context */
export function devicesPage(context) {
  const note = notices();
  const query = context.route.query;
  // Any size the API accepts (1..500) from the URL; the drop-down offers the usual ones.
  const limit = Math.min(500, Math.max(1, Number(query.limit) || 50));
  const offset = Number(query.offset ?? 0) || 0;
  const rows = h('tbody');
  const pager = h('div', { class: 'pager' });
  const summary = h('span', { class: 'muted', 'data-field': 'total' }, 'Loading…');
  /** @type {Set<string>} */
  const visible = new Set();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let refetch;

  /** Applies the filters by changing the URL: a reload, a bookmark or the back button keeps them. */
  const apply = (/** @type {Record<string, string | number | undefined>} */ changes) => {
    const next = { ...Object.fromEntries(filterNames.map((n) => [n, query[n]])), limit: query.limit, ...changes };
    context.navigate(routeHash('/devices', next));
  };

  const batch = /** @type {HTMLSelectElement} */ (
    select(
      { name: 'batchId', onchange: () => apply({ batchId: batch.value, offset: 0 }) },
      query.batchId ? [query.batchId] : [],
      { any: 'All batches', selected: query.batchId },
    )
  );
  const target = /** @type {HTMLSelectElement} */ (
    select(
      { name: 'targetId', onchange: () => apply({ targetId: target.value, offset: 0 }) },
      query.targetId ? [query.targetId] : [],
      { any: 'Any target', selected: query.targetId },
    )
  );
  const state = /** @type {HTMLSelectElement} */ (
    select({ name: 'state', onchange: () => apply({ state: state.value, offset: 0 }) }, deviceStates, {
      any: 'Any state',
      selected: query.state,
    })
  );
  const connection = /** @type {HTMLSelectElement} */ (
    select(
      { name: 'connection', onchange: () => apply({ connection: connection.value, offset: 0 }) },
      connectionStates.map((c) => [
        c,
        { never: 'Never connected', connected: 'Connected', disconnected: 'Disconnected' }[c] ?? c,
      ]),
      { any: 'Any connection', selected: query.connection },
    )
  );
  const search = /** @type {HTMLInputElement} */ (
    h('input', {
      type: 'search',
      name: 'q',
      value: query.q ?? '',
      placeholder: 'd-7f3a…',
      pattern: '[A-Za-z0-9_\\-]{1,128}',
      class: 'mono',
    })
  );
  const size = /** @type {HTMLSelectElement} */ (
    select(
      { name: 'limit', onchange: () => apply({ limit: size.value, offset: 0 }) },
      [...new Set([...pageSizes, String(limit)])].sort((a, b) => Number(a) - Number(b)),
      { selected: String(limit) },
    )
  );

  // The drop-downs' options: batches and targets are few (hundreds at most), devices never listed whole.
  void Promise.all([listAll('/api/batches'), listAll('/api/targets')]).then(
    ([batches, targets]) => {
      replaceChildren(
        batch,
        h('option', { value: '' }, 'All batches'),
        batches.map((b) =>
          h(
            'option',
            { value: b.batchId, selected: b.batchId === query.batchId },
            `${b.name} (${formatCount(b.devices)})`,
          ),
        ),
      );
      replaceChildren(
        target,
        h('option', { value: '' }, 'Any target'),
        targets.map((t) => h('option', { value: t.targetId, selected: t.targetId === query.targetId }, t.name)),
      );
    },
    (error) => note.error(error, 'load the filters'),
  );

  const load = coalesced(async () => {
    try {
      const page = await get('/api/devices', {
        ...Object.fromEntries(filterNames.map((n) => [n, query[n]])),
        limit,
        offset,
      });
      visible.clear();
      for (const d of page.items) visible.add(d.deviceId);
      replaceChildren(
        rows,
        page.items.length
          ? page.items.map(deviceRow)
          : h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No devices match these filters.')),
      );
      replaceChildren(summary, `Devices ${pageLabel(page)}`);
      replaceChildren(
        pager,
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            disabled: offset === 0,
            onclick: () => apply({ offset: Math.max(0, offset - limit) }),
          },
          'Previous',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            disabled: offset + page.items.length >= page.total,
            onclick: () => apply({ offset: offset + limit }),
          },
          'Next',
        ),
      );
    } catch (error) {
      note.error(error, 'load the devices');
    }
  });
  void load();

  /** Many changes at once (a certify run) become one refetch of the visible page, at most one a second. */
  const scheduleRefetch = () => {
    refetch ??= setTimeout(() => {
      refetch = undefined;
      void load();
    }, 1_000);
  };

  return {
    element: h(
      'section',
      { class: 'page', 'data-title': 'Devices' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Devices'), summary),
      note.element,
      h(
        'form',
        {
          class: 'filters card',
          'aria-label': 'Filters',
          onsubmit: (/** @type {Event} */ event) => {
            event.preventDefault();
            apply({ q: search.value.trim(), offset: 0 });
          },
        },
        field('Batch', batch),
        field('State', state),
        field('Connection', connection),
        field('Target', target),
        field('Device id starts with', search),
        field('Per page', size),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', class: 'secondary' }, 'Search'),
          h('a', { href: '#/devices', class: 'button link' }, 'Clear'),
        ),
      ),
      h(
        'table',
        { class: 'grid', 'aria-label': 'Devices' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            [
              'Device',
              'Batch',
              'State',
              'Connection',
              'Targets',
              'Messages',
              'Last telemetry',
              'Certificate expires',
            ].map((t) => h('th', {}, t)),
          ),
        ),
        rows,
      ),
      pager,
    ),
    onLive(type, data) {
      if (type === 'device' && visible.has(data.deviceId)) {
        // Shown at once; the page is then refetched so totals and filters stay true.
        rows.querySelector(`tr[data-device-id="${CSS.escape(data.deviceId)}"]`)?.replaceWith(deviceRow(data));
        scheduleRefetch();
      } else if (type === 'device' || type === 'devices-changed' || type === 'hello') scheduleRefetch();
    },
    dispose() {
      clearTimeout(refetch);
    },
  };
}

/** @param {any} device */
function deviceRow(device) {
  const now = Date.now();
  return h(
    'tr',
    { dataset: { deviceId: device.deviceId, state: device.state, connection: device.connection } },
    h(
      'td',
      {},
      h('a', { href: `#/devices/${encodeURIComponent(device.deviceId)}`, class: 'mono' }, device.deviceId),
      device.problem ? h('div', { class: 'warn small' }, device.problem) : null,
    ),
    h(
      'td',
      {},
      device.batchId ? h('a', { href: routeHash('/devices', { batchId: device.batchId }) }, device.batchId) : '—',
    ),
    h('td', {}, stateBadge(device.state)),
    h('td', {}, connectionBadge(device.connection)),
    h(
      'td',
      {},
      device.targets.length
        ? device.targets.map((/** @type {any} */ t) =>
            h('span', { class: `chip ${t.connected ? 'ok' : ''}`, title: t.status }, t.targetId),
          )
        : '—',
    ),
    h('td', { class: 'num', 'data-field': 'messages' }, formatCount(device.messagesTotal)),
    h('td', { title: formatTime(device.lastTelemetryAt) }, relativeTime(device.lastTelemetryAt, now)),
    h(
      'td',
      { title: formatTime(device.certificate?.notAfter) },
      device.certificate ? relativeTime(device.certificate.notAfter, now) : '—',
    ),
  );
}
