// Integrity monitoring (issue 17): the alert list (newest violations first, refreshed every few
// seconds) and, with `?device=<id>`, one device's integrity timeline with Release from quarantine.
import { post } from '../api.js';
import { field, h, replaceChildren } from '../dom.js';
import { routeHash } from '../logic.js';
import { busy, commandButton, confirmDialog, details, notices } from '../ui.js';

const refreshMs = 5_000;
const shownAlerts = 200;

/** @param {string | undefined} at */
const when = (at) => (at ? new Date(at).toLocaleString() : '');
/** @param {string | undefined} digest */
const short = (digest) => (digest ? `${digest.slice(0, 12)}…` : '');

/** @param {import('../app.js').PageContext} context */
export function integrityPage({ route, navigate }) {
  const deviceId = route.query.device;
  return deviceId ? deviceIntegrity(deviceId, navigate) : alertList(navigate);
}

/** @param {(hash: string) => void} navigate */
function alertList(navigate) {
  const note = notices();
  const rows = h('tbody');
  const count = h('span', { class: 'muted', 'data-field': 'alert-count' }, '');
  const lookup = /** @type {HTMLInputElement} */ (h('input', { required: true, placeholder: 'device id' }));
  const load = async () => {
    try {
      const { result } = await post('/api/integrity/alerts', { limit: shownAlerts });
      replaceChildren(
        rows,
        ...result.alerts.map((/** @type {any} */ a) =>
          h(
            'tr',
            { 'data-device': a.deviceId },
            h('td', {}, when(a.detectedAt)),
            h('td', {}, h('a', { class: 'mono', href: routeHash('/integrity', { device: a.deviceId }) }, a.deviceId)),
            h('td', {}, h('span', { class: 'badge conn-disconnected' }, a.kind)),
            h('td', {}, a.action),
            h('td', { class: 'mono' }, a.observedMeasurement ? short(a.observedMeasurement) : ''),
          ),
        ),
      );
      replaceChildren(count, `${result.alerts.length} alerts`);
    } catch (error) {
      note.error(error, 'read the alerts');
    }
  };
  void load();
  const timer = window.setInterval(() => void load(), refreshMs);
  return {
    element: h(
      'section',
      { class: 'page', 'data-title': 'Integrity' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Integrity alerts'), count),
      note.element,
      h(
        'form',
        {
          class: 'card',
          onsubmit: (/** @type {Event} */ e) => {
            e.preventDefault();
            navigate(routeHash('/integrity', { device: lookup.value.trim() }));
          },
        },
        field('A device’s integrity timeline', lookup),
        h('button', { type: 'submit', class: 'secondary' }, 'Open'),
      ),
      h(
        'table',
        { class: 'card', 'aria-label': 'Integrity alerts' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Detected', 'Device', 'Violation', 'Action', 'Reported measurement'].map((t) => h('th', {}, t)),
          ),
        ),
        rows,
      ),
    ),
    dispose: () => window.clearInterval(timer),
  };
}

/**
 * @param {string} deviceId
 * @param {(hash: string) => void} navigate
 */
function deviceIntegrity(deviceId, navigate) {
  const note = notices();
  const summary = h('div', { role: 'region', 'aria-label': 'Integrity summary' });
  const timeline = h('tbody');
  const release = /** @type {HTMLButtonElement} */ (
    commandButton('Release from quarantine', {
      path: '/api/devices/{deviceId}/quarantine/release',
      class: 'primary',
      hidden: true,
      'data-action': 'release',
      onclick: () => void releaseIt(),
    })
  );
  const load = async () => {
    try {
      const { result: d } = await post(`/api/devices/${encodeURIComponent(deviceId)}/integrity`, {});
      replaceChildren(
        summary,
        details([
          [
            'Status',
            h(
              'span',
              { class: `badge ${d.quarantined ? 'state-revoked' : 'conn-connected'}` },
              d.quarantined ? 'quarantined' : 'monitored',
            ),
          ],
          ['Expected measurement', h('span', { class: 'mono' }, d.expectedMeasurement ?? '(none)')],
          [
            'Policy',
            `${d.policy.policyId}: a heartbeat every ${d.policy.heartbeatPeriodSeconds} s, silence after ${d.policy.missedPeriods} periods, ${d.policy.action}`,
          ],
          [
            'Last heartbeat',
            d.lastHeartbeat ? `#${d.lastHeartbeat.counter}, sent ${when(d.lastHeartbeat.sentAt)}` : 'none seen',
          ],
          ['Violations', String(d.violations.length)],
        ]),
      );
      release.hidden = !d.quarantined;
      replaceChildren(
        timeline,
        ...[...d.timeline]
          .reverse()
          .map((/** @type {any} */ t) =>
            h('tr', {}, h('td', {}, when(t.at)), h('td', {}, t.type), h('td', {}, t.detail)),
          ),
      );
    } catch (error) {
      note.error(error, `read the integrity of ${deviceId}`);
    }
  };
  const releaseIt = async () => {
    const ok = await confirmDialog({
      title: `Release ${deviceId} from quarantine?`,
      body: ['Its brokers give it its policy rights back; its telemetry is accepted again.'],
      confirm: 'Release',
    });
    if (!ok) return;
    await busy(release, async () => {
      try {
        const { result } = await post(`/api/devices/${encodeURIComponent(deviceId)}/quarantine/release`, {});
        note.success(result.released ? `${deviceId} released from quarantine` : `${deviceId} was not quarantined`);
        await load();
      } catch (error) {
        note.error(error, 'release the device');
      }
    });
  };
  void load();
  const timer = window.setInterval(() => void load(), refreshMs);
  return {
    element: h(
      'section',
      { class: 'page', 'data-title': `Integrity ${deviceId}` },
      h(
        'div',
        { class: 'page-head' },
        h('h1', { class: 'mono' }, deviceId),
        h('div', { class: 'row-actions' }, release),
        h('button', { type: 'button', class: 'link', onclick: () => navigate('#/integrity') }, 'All alerts'),
      ),
      note.element,
      h('section', { class: 'card' }, summary),
      h(
        'table',
        { class: 'card', 'aria-label': 'Integrity timeline' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['When', 'What', 'Detail'].map((t) => h('th', {}, t)),
          ),
        ),
        timeline,
      ),
    ),
    dispose: () => window.clearInterval(timer),
  };
}
