// Devices: filtered, sorted and paged by the gateway (only the visible page is ever fetched, so
// 10,000 devices cost what 50 do; a column's sort orders the whole filtered fleet), with live state,
// connection and telemetry from the event stream; devices selected for revoke or renew (with the
// revocation's live progress), and the whole filtered list exported as CSV in the same order.
import { get, listAll, post } from '../api.js';
import { field, h, replaceChildren, select } from '../dom.js';
import { deviceColumns, devicesCsv, exportFileName, nextSort, sortOf, sortParam } from '../device-table-logic.js';
import {
  connectionStates,
  deviceStates,
  formatCount,
  formatTime,
  pageLabel,
  relativeTime,
  routeHash,
} from '../logic.js';
import { devicesRevocationProgress } from '../revocation-logic.js';
import { askRevocation, revocationPanel, sendEach } from '../revocation.js';
import { busy, coalesced, commandButton, confirmDialog, connectionBadge, may, notices, stateBadge } from '../ui.js';

const filterNames = ['batchId', 'state', 'connection', 'targetId', 'q'];
/** Devices read per request while exporting (the API's largest page). */
const exportPageSize = 500;
/** Pending devices of a tracked revocation read again per round when the live events cannot say (bulk changes). */
const progressReadsPerRound = 40;
const pageSizes = ['25', '50', '100', '250'];

/**
 * The revocation the operator last started from the device list, if any: its devices, what the
 * console last saw of each, and its progress panel.
 * @type {{ deviceIds: string[], refused: number, seen: Map<string, any>, panel: ReturnType<typeof revocationPanel> } | undefined}
 */
let tracked;

/** @param {import('../app.js').PageContext} context */
export function devicesPage(context) {
  const note = notices();
  const query = context.route.query;
  // Any size the API accepts (1..500) from the URL; the drop-down offers the usual ones.
  const limit = Math.min(500, Math.max(1, Number(query.limit) || 50));
  const offset = Number(query.offset ?? 0) || 0;
  // The gateway sorts the list of a target's links in their own order only: no column sort with a target filter.
  const sort = query.targetId ? undefined : sortOf(query);
  const rows = h('tbody');
  const pager = h('div', { class: 'pager' });
  const summary = h('span', { class: 'muted', 'data-field': 'total' }, 'Loading…');
  const progressArea = h('div');
  /** The page as the gateway last answered it, with the live updates applied since. @type {Map<string, any>} */
  const shown = new Map();
  /** Selected devices: always among those shown. @type {Set<string>} */
  const selected = new Set();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let refetch;
  // A revocation started from the list goes on being followed on the next page (a sort, a filter or
  // paging makes a new page), until the operator dismisses it.
  if (tracked) progressArea.append(tracked.panel.element);

  /** Applies the filters by changing the URL: a reload, a bookmark or the back button keeps them. */
  const apply = (/** @type {Record<string, string | number | undefined>} */ changes) => {
    const next = {
      ...Object.fromEntries(filterNames.map((n) => [n, query[n]])),
      limit: query.limit,
      sort: sort?.column,
      order: sort?.direction === 'desc' ? 'desc' : undefined,
      ...changes,
    };
    context.navigate(routeHash('/devices', next));
  };
  const filters = () => Object.fromEntries(filterNames.map((n) => [n, query[n]]));
  /** The filters and the sort, as the gateway's query. */
  const listQuery = () => ({ ...filters(), sort: sortParam(sort) });

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

  const selectAll = /** @type {HTMLInputElement} */ (
    h('input', {
      type: 'checkbox',
      'aria-label': 'Select every device on this page',
      onchange: () => {
        for (const id of shown.keys()) {
          if (selectAll.checked) selected.add(id);
          else selected.delete(id);
        }
        renderRows();
      },
    })
  );
  const selectionLabel = h('span', { class: 'muted', 'data-field': 'selected' });
  const revokeSelected = commandButton('Revoke selected…', {
    path: '/api/devices/{deviceId}/revocation',
    class: 'danger',
    onclick: () => void revokeSelection(),
  });
  const renewSelected = commandButton('Renew selected…', {
    path: '/api/renewals',
    class: 'secondary',
    title: 'Rotate, then revoke: each selected device gets a new key and certificate',
    onclick: (/** @type {Event} */ event) =>
      void renewSelection(/** @type {HTMLButtonElement} */ (event.currentTarget)),
  });
  const exportButton = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      title: 'Every device these filters match, as a CSV file',
      onclick: (/** @type {Event} */ event) => void exportList(/** @type {HTMLButtonElement} */ (event.currentTarget)),
    },
    'Export CSV',
  );

  /** Shows how many are selected; the bulk buttons need a selection (and the role, as always). */
  const renderSelection = () => {
    replaceChildren(selectionLabel, selected.size ? `${formatCount(selected.size)} selected` : 'None selected');
    revokeSelected.disabled = !selected.size || !may('post', '/api/devices/{deviceId}/revocation');
    renewSelected.disabled = !selected.size || !may('post', '/api/renewals');
    selectAll.checked = shown.size > 0 && selected.size === shown.size;
    selectAll.indeterminate = selected.size > 0 && selected.size < shown.size;
  };

  const renderRows = () => {
    // In the gateway's order: a live update replaces a row in place, the refetch that follows reorders.
    const devices = [...shown.values()];
    replaceChildren(
      rows,
      devices.length
        ? devices.map((d) => deviceRow(d, selected.has(d.deviceId), toggle))
        : h(
            'tr',
            {},
            h('td', { colspan: deviceColumns.length + 1, class: 'empty' }, 'No devices match these filters.'),
          ),
    );
    renderSelection();
  };
  const toggle = (/** @type {string} */ deviceId, /** @type {boolean} */ on) => {
    if (on) selected.add(deviceId);
    else selected.delete(deviceId);
    renderSelection();
  };

  const load = coalesced(async () => {
    try {
      const page = await get('/api/devices', { ...listQuery(), limit, offset });
      shown.clear();
      for (const d of page.items) shown.set(d.deviceId, d);
      for (const id of [...selected]) if (!shown.has(id)) selected.delete(id);
      saw(page.items);
      renderRows();
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
      void readPending();
    }, 1_000);
  };

  /** What the page learnt of devices (a live update or a read) moves the tracked revocation on. */
  const saw = (/** @type {any[]} */ devices) => {
    if (!tracked) return;
    for (const d of devices) if (tracked.seen.has(d.deviceId)) tracked.seen.set(d.deviceId, d);
    tracked.panel.update(devicesRevocationProgress(tracked.deviceIds, tracked.seen, tracked.refused));
  };

  /**
   * Devices of the tracked revocation that are neither revoked nor on this page, read one by one
   * (a few per round): for when the live stream sends `devices-changed` instead of each device.
   */
  const readPending = coalesced(async () => {
    if (!tracked) return;
    const { seen } = tracked;
    const pending = tracked.deviceIds
      .filter((id) => !shown.has(id) && (seen.get(id)?.state !== 'Revoked' || seen.get(id)?.connection === 'connected'))
      .slice(0, progressReadsPerRound);
    const read = await sendEach(pending, async (id) => saw([await get(`/api/devices/${encodeURIComponent(id)}`)]));
    if (read.refused.length) note.error(read.refused[0]?.error, 'read the revocation’s progress');
  });

  const revokeSelection = async () => {
    const deviceIds = [...shown.keys()].filter((id) => selected.has(id));
    const reason = await askRevocation({
      title: `Revoke ${formatCount(deviceIds.length)} selected device${deviceIds.length === 1 ? '' : 's'}?`,
      text: `Each device’s certificate is revoked and published in the CRL, and every target cuts it off. This cannot be undone. ${deviceIds.slice(0, 5).join(', ')}${deviceIds.length > 5 ? ', …' : ''}`,
      confirm: `Revoke ${formatCount(deviceIds.length)} device${deviceIds.length === 1 ? '' : 's'}`,
    });
    if (!reason) return;
    note.clear();
    // Followed from now on, so a page change while the commands go out keeps it.
    const revocation = {
      deviceIds,
      refused: 0,
      seen: new Map(deviceIds.map((id) => [id, shown.get(id)])),
      panel: revocationPanel(`Revoking ${formatCount(deviceIds.length)} selected devices`, () => {
        if (tracked === revocation) tracked = undefined;
      }),
    };
    tracked = revocation;
    replaceChildren(progressArea, revocation.panel.element);
    const { sent, refused } = await sendEach(deviceIds, (id) =>
      post(`/api/devices/${encodeURIComponent(id)}/revocation`, { reason }),
    );
    // Those refused are counted apart, not waited for.
    revocation.deviceIds = sent;
    revocation.refused = refused.length;
    saw([]);
    if (refused.length)
      note.error(refused[0]?.error, `revoke ${refused.map((r) => r.item).join(', ')} (${refused.length} refused)`);
    selected.clear();
    renderRows();
  };

  const renewSelection = async (/** @type {HTMLButtonElement} */ button) => {
    const deviceIds = [...selected];
    const confirmed = await confirmDialog({
      title: `Renew the certificates of ${formatCount(deviceIds.length)} device${deviceIds.length === 1 ? '' : 's'}?`,
      body: [
        h(
          'p',
          {},
          'Each device derives a new key, gets a new certificate and connects with it; only then is its old certificate revoked (superseded).',
        ),
      ],
      confirm: 'Renew',
    });
    if (!confirmed) return;
    note.clear();
    await busy(button, async () => {
      try {
        const { result } = await post('/api/renewals', { scope: { kind: 'devices', deviceIds }, reason: 'operator' });
        note.success(
          `Renewal of ${formatCount(result.devices)} device${result.devices === 1 ? '' : 's'} started` +
            (result.skipped ? `, ${formatCount(result.skipped)} skipped (revoked or without a certificate)` : '') +
            `. Operation ${result.operationId}.`,
        );
        selected.clear();
        renderRows();
      } catch (error) {
        note.error(error, 'renew the selected devices');
      }
    });
  };

  /** Every device the filters match (not only this page), read a page of 500 at a time, as a CSV download. */
  const exportList = async (/** @type {HTMLButtonElement} */ button) => {
    note.clear();
    await busy(button, async () => {
      try {
        const devices = [];
        for (let from = 0; ; from += exportPageSize) {
          const page = await get('/api/devices', { ...listQuery(), limit: exportPageSize, offset: from });
          devices.push(...page.items);
          button.textContent = `Exporting ${formatCount(devices.length)} of ${formatCount(page.total)}`;
          if (page.items.length === 0 || devices.length >= page.total) break;
        }
        const file = new window.Blob([devicesCsv(devices)], { type: 'text/csv' });
        const url = URL.createObjectURL(file);
        const link = h('a', { href: url, download: exportFileName(filters(), Date.now()), hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        note.success(`Exported ${formatCount(devices.length)} devices as CSV.`);
      } catch (error) {
        note.error(error, 'export the devices');
      }
    });
  };

  const header = (/** @type {(typeof deviceColumns)[number]} */ column) => {
    if (!column.sortField || query.targetId)
      return h('th', { title: column.sortField ? 'Not sortable with a target filter' : undefined }, column.label);
    const active = sort?.column === column.key;
    const next = nextSort(sort, column.key);
    return h(
      'th',
      { 'aria-sort': active ? (sort?.direction === 'desc' ? 'descending' : 'ascending') : undefined },
      h(
        'button',
        {
          type: 'button',
          class: 'sort',
          onclick: () =>
            apply({ sort: next?.column, order: next?.direction === 'desc' ? 'desc' : undefined, offset: 0 }),
        },
        column.label,
        active ? (sort?.direction === 'desc' ? ' ▼' : ' ▲') : '',
      ),
    );
  };

  return {
    element: h(
      'section',
      { class: 'page', 'data-title': 'Devices' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Devices'), summary),
      note.element,
      progressArea,
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
        'div',
        { class: 'bulk-actions', role: 'toolbar', 'aria-label': 'Selected devices' },
        selectionLabel,
        renewSelected,
        revokeSelected,
        h('span', { class: 'spacer' }),
        exportButton,
      ),
      h(
        'table',
        { class: 'grid', 'aria-label': 'Devices' },
        h('thead', {}, h('tr', {}, h('th', { class: 'select' }, selectAll), deviceColumns.map(header))),
        rows,
      ),
      pager,
    ),
    onLive(type, data) {
      if (type === 'device' && shown.has(data.deviceId)) {
        // Shown at once; the page is then refetched so totals and filters stay true.
        shown.set(data.deviceId, data);
        renderRows();
        scheduleRefetch();
      } else if (type === 'device' || type === 'devices-changed' || type === 'hello') scheduleRefetch();
      if (type === 'device') saw([data]);
    },
    dispose() {
      clearTimeout(refetch);
    },
  };
}

/**
 * @param {any} device
 * @param {boolean} checked
 * @param {(deviceId: string, on: boolean) => void} toggle
 */
function deviceRow(device, checked, toggle) {
  const now = Date.now();
  return h(
    'tr',
    { dataset: { deviceId: device.deviceId, state: device.state, connection: device.connection } },
    h(
      'td',
      { class: 'select' },
      h('input', {
        type: 'checkbox',
        checked,
        'aria-label': `Select ${device.deviceId}`,
        onchange: (/** @type {Event} */ event) =>
          toggle(device.deviceId, /** @type {HTMLInputElement} */ (event.currentTarget).checked),
      }),
    ),
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
