// One rollout, live: its state (and why it paused), each wave's progress, the devices that did not
// update and why, and Pause / Resume / Abort. Progress arrives over server-sent events
// (GET /events/rollouts/{rolloutId}, a one-minute ticket per connection), sent whenever it changed;
// the stream ends once the rollout completed or was aborted.
import { post } from '../api.js';
import { field, h, replaceChildren } from '../dom.js';
import { routeHash } from '../logic.js';
import { reasonCounts, rolloutActions, waveLine } from '../rollout-logic.js';
import { busy, commandButton, confirmDialog, details, notices } from '../ui.js';

/** The console's existing badge colours (console.css): green running, orange paused, like the states. */
const badgeClass = {
  running: 'conn-connected',
  paused: 'conn-disconnected',
  completed: 'state-certified',
  aborted: 'state-revoked',
};

/** Devices listed on the page (the API has them all; the reasons summary counts every one). */
const shownDevices = 500;

/** @param {import('../app.js').PageContext} context */
export function rolloutPage({ route, navigate }) {
  const rolloutId = route.query.id;
  const note = notices();
  if (!rolloutId) {
    const id = /** @type {HTMLInputElement} */ (h('input', { required: true }));
    return {
      element: h(
        'section',
        { class: 'page', 'data-title': 'Rollout' },
        h('div', { class: 'page-head' }, h('h1', {}, 'Rollout')),
        h(
          'form',
          {
            class: 'card',
            onsubmit: (/** @type {Event} */ e) => {
              e.preventDefault();
              navigate(routeHash('/rollout', { id: id.value.trim() }));
            },
          },
          field('Rollout id', id),
          h('button', { type: 'submit', class: 'primary' }, 'Open'),
        ),
      ),
    };
  }

  const status = h('span', { class: 'badge', 'data-field': 'rollout-status' }, 'connecting…');
  const summary = h('div', { 'aria-label': 'Rollout summary', role: 'region' });
  const waveRows = h('tbody');
  const reasons = h('ul', { 'aria-label': 'Reasons' });
  const deviceRows = h('tbody');
  const action = (/** @type {'pause' | 'resume' | 'abort'} */ kind, /** @type {string} */ label, cls = 'secondary') =>
    /** @type {HTMLButtonElement} */ (
      commandButton(label, {
        path: `/api/rollouts/{rolloutId}/${kind}`,
        class: cls,
        disabled: true,
        'data-action': kind,
        onclick: (/** @type {Event} */ e) => void control(kind, /** @type {HTMLButtonElement} */ (e.currentTarget)),
      })
    );
  const buttons = {
    pause: action('pause', 'Pause'),
    resume: action('resume', 'Resume', 'primary'),
    abort: action('abort', 'Abort', 'danger'),
  };
  /** @type {any} */
  let shown;

  const element = h(
    'section',
    { class: 'page', 'data-title': `Rollout ${rolloutId}` },
    h(
      'div',
      { class: 'page-head' },
      h('h1', { class: 'mono' }, rolloutId),
      status,
      h('div', { class: 'row-actions' }, Object.values(buttons)),
    ),
    note.element,
    h('section', { class: 'card' }, summary),
    h(
      'section',
      { class: 'card', 'aria-label': 'Waves' },
      h('h2', {}, 'Waves'),
      h(
        'table',
        { class: 'grid', 'aria-label': 'Wave progress' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Wave', 'Share', 'State', 'Progress', ''].map((t) => h('th', {}, t)),
          ),
        ),
        waveRows,
      ),
    ),
    h('section', { class: 'card', 'aria-label': 'Not updated' }, h('h2', {}, 'Not updated, by reason'), reasons),
    h(
      'section',
      { class: 'card', 'aria-label': 'Devices' },
      h('h2', {}, 'Devices'),
      h(
        'table',
        { class: 'grid compact', 'aria-label': 'Rollout devices' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Device', 'Wave', 'Status', 'Reason'].map((t) => h('th', {}, t)),
          ),
        ),
        deviceRows,
      ),
    ),
  );

  const render = (/** @type {any} */ progress) => {
    shown = progress;
    replaceChildren(status, progress.status);
    status.className = `badge ${badgeClass[/** @type {keyof typeof badgeClass} */ (progress.status)] ?? ''}`;
    const allowed = rolloutActions(progress.status);
    for (const [kind, button] of Object.entries(buttons))
      if (!button.title.startsWith('Needs')) button.disabled = !allowed[/** @type {keyof typeof allowed} */ (kind)];
    replaceChildren(
      summary,
      details([
        ['Image', `${progress.firmwareId} (version ${progress.version})`],
        ['Devices', String(progress.deviceCount)],
        ['Updated', String(progress.updated)],
        ['Failed', String(progress.failed)],
        ['Skipped', String(progress.skipped)],
        ['Paused because', progress.status === 'paused' ? progress.pauseReason : undefined],
      ]),
    );
    replaceChildren(
      waveRows,
      progress.waves.map((/** @type {any} */ wave) => {
        const line = waveLine(wave, progress.wave);
        return h(
          'tr',
          { dataset: { wave: String(wave.wave), waveState: line.state } },
          h('td', {}, `Wave ${wave.wave}`),
          h('td', { class: 'num' }, `${wave.percent} %`),
          h('td', { 'data-field': 'wave-state' }, line.state),
          h('td', {}, h('progress', { max: '1', value: String(line.fraction) })),
          h('td', { 'data-field': 'wave-progress' }, line.text),
        );
      }),
    );
    const counted = reasonCounts(progress.devices);
    replaceChildren(
      reasons,
      counted.length
        ? counted.map(([reason, n]) => h('li', { dataset: { reason } }, `${reason}: ${n}`))
        : h('li', { class: 'muted' }, 'Every device offered so far updated or is still downloading.'),
    );
    replaceChildren(
      deviceRows,
      progress.devices
        .slice(0, shownDevices)
        .map((/** @type {any} */ d) =>
          h(
            'tr',
            { dataset: { deviceId: d.deviceId, status: d.status } },
            h('td', { class: 'mono small' }, h('a', { href: routeHash(`/devices/${d.deviceId}`) }, d.deviceId)),
            h('td', { class: 'num' }, d.wave === undefined ? '—' : String(d.wave)),
            h('td', {}, d.status),
            h('td', {}, d.reason ?? ''),
          ),
        ),
    );
  };

  const control = (/** @type {'pause' | 'resume' | 'abort'} */ kind, /** @type {HTMLButtonElement} */ button) =>
    busy(button, async () => {
      note.clear();
      if (
        kind === 'abort' &&
        !(await confirmDialog({
          title: `Abort rollout ${rolloutId}?`,
          body: ['No device will be offered this update any more. Devices already updated keep the new image.'],
          confirm: 'Abort rollout',
        }))
      )
        return;
      try {
        await post(`/api/rollouts/${encodeURIComponent(rolloutId)}/${kind}`, {});
        note.success(`Rollout ${kind === 'abort' ? 'aborted' : kind === 'pause' ? 'paused' : 'resumed'}.`);
      } catch (error) {
        note.error(error, `${kind} the rollout`);
      }
    }).finally(() => shown && render(shown));

  // ---- the stream ----
  /** @type {EventSource | undefined} */
  let source;
  let ended = false;
  let retryMs = 1_000;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const open = async () => {
    try {
      const { ticket } = await post('/api/sse-tickets');
      if (ended) return;
      const url = `/events/rollouts/${encodeURIComponent(rolloutId)}?ticket=${encodeURIComponent(ticket)}`;
      source = new EventSource(url);
      source.addEventListener('rollout', (event) => {
        retryMs = 1_000;
        const progress = JSON.parse(/** @type {MessageEvent} */ (event).data);
        render(progress);
        if (progress.status === 'completed' || progress.status === 'aborted') ended = true;
      });
      source.addEventListener('rollout-error', (event) => {
        const error = JSON.parse(/** @type {MessageEvent} */ (event).data);
        note.error(new Error(error.message), 'read the rollout’s progress');
        if (error.reason === 'unknown-rollout') ended = true;
      });
      source.onerror = () => {
        source?.close();
        if (ended) return;
        timer = setTimeout(() => void open(), retryMs);
        retryMs = Math.min(retryMs * 2, 15_000);
      };
    } catch (error) {
      note.error(error, 'follow the rollout');
      timer = setTimeout(() => void open(), retryMs);
    }
  };
  void open();

  return {
    element,
    dispose() {
      ended = true;
      clearTimeout(timer);
      source?.close();
    },
  };
}
