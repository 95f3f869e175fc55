// The console's shell: sign-in state, the hash router, the live stream and the header.
import { get, request, session, whenUnauthenticated } from './api.js';
import { replaceChildren } from './dom.js';
import { parseRoute } from './logic.js';
import { fleetHistory } from './fleet-history.js';
import { LiveStream } from './live.js';
import { batchesPage } from './pages/batches.js';
import { catalogPage } from './pages/catalog.js';
import { dashboardPage } from './pages/dashboard.js';
import { devicePage } from './pages/device.js';
import { devicesPage } from './pages/devices.js';
import { firmwarePage } from './pages/firmware.js';
import { integrityPage } from './pages/integrity.js';
import { loginPage } from './pages/login.js';
import { rolloutPage } from './pages/rollout.js';

/**
 * @typedef {{ element: HTMLElement, onLive?: (type: string, data: any) => void, dispose?: () => void }} Page
 * @typedef {{ route: ReturnType<typeof parseRoute>, live: LiveStream, navigate: (hash: string) => void, signedIn: () => Promise<void> }} PageContext
 */

const pages = {
  batches: batchesPage,
  devices: devicesPage,
  device: devicePage,
  catalog: catalogPage,
  dashboard: dashboardPage,
  firmware: firmwarePage,
  rollout: rolloutPage,
  integrity: integrityPage,
};
const view = /** @type {HTMLElement} */ (document.getElementById('view'));
const live = new LiveStream();
/** @type {Page | undefined} */
let current;

live.onStatus((status) => {
  const badge = /** @type {HTMLElement} */ (document.getElementById('live-status'));
  badge.textContent = { live: 'live', connecting: 'connecting…', offline: 'offline' }[status];
  badge.className = `live ${status}`;
});
live.subscribe((type, data) => current?.onLive?.(type, data));
live.subscribe(fleetHistory.onLive);

whenUnauthenticated(() => {
  session.token = null;
  session.principal = undefined;
  live.stop();
  showSession();
  location.hash = '#/login?expired=1';
});

/** @param {string} hash */
function navigate(hash) {
  if (location.hash === hash) void render();
  else location.hash = hash;
}

async function signedIn() {
  session.principal = await get('/api/whoami');
  showSession();
  live.start();
}

function showSession() {
  const signed = Boolean(session.principal);
  /** @type {HTMLElement} */ (document.getElementById('nav')).hidden = !signed;
  /** @type {HTMLElement} */ (document.getElementById('session')).hidden = !signed;
  if (session.principal)
    /** @type {HTMLElement} */ (document.getElementById('whoami')).textContent =
      `${session.principal.name} · ${session.principal.role}`;
}

async function render() {
  const route = parseRoute(location.hash);
  current?.dispose?.();
  current = undefined;
  if (!session.principal && route.name !== 'login') {
    location.hash = '#/login';
    return;
  }
  for (const link of document.querySelectorAll('#nav a'))
    link.classList.toggle(
      'active',
      /** @type {HTMLElement} */ (link).dataset.route ===
        (route.name === 'device' ? 'devices' : route.name === 'rollout' ? 'firmware' : route.name),
    );
  const make =
    route.name === 'login' ? loginPage : (pages[/** @type {keyof typeof pages} */ (route.name)] ?? batchesPage);
  const page = make({ route, live, navigate, signedIn });
  current = page;
  replaceChildren(view, page.element);
  document.title = `${page.element.dataset.title ?? 'Console'} · tunnelkey`;
}

async function boot() {
  /** @type {HTMLElement} */ (document.getElementById('sign-out')).addEventListener('click', () => {
    session.token = null;
    session.principal = undefined;
    live.stop();
    showSession();
    location.hash = '#/login';
  });
  // Public: the roles of every route and the contracts' enums, so the console never copies them.
  session.openapi = await request('GET', '/openapi.json').catch(() => ({}));
  if (session.token) {
    try {
      await signedIn();
    } catch {
      session.token = null;
    }
  }
  window.addEventListener('hashchange', () => void render());
  await render();
}

void boot();
