// Revocation in the console: the confirmation with its reason (one device, a selection, a batch),
// commands sent one per device within the gateway's rate limit, and the live progress panel.
import { ApiError, session } from './api.js';
import { field, h, replaceChildren, select } from './dom.js';
import { bodyEnum, humanize } from './logic.js';
import { revocationLabel } from './revocation-logic.js';
import { confirmDialog } from './ui.js';

const fallbackReasons = ['unspecified', 'keyCompromise', 'superseded', 'cessationOfOperation'];

/**
 * Asks for a revocation's confirmation and reason; with `typeToConfirm`, the confirm button stays
 * disabled until that text is typed (a whole batch is not revoked by a slip of the mouse).
 * @param {{ title: string, text: string, confirm: string, reason?: string, typeToConfirm?: string }} options
 * @returns {Promise<string | undefined>} the reason, or undefined when cancelled
 */
export async function askRevocation({ title, text, confirm, reason = 'keyCompromise', typeToConfirm }) {
  const reasons = bodyEnum(session.openapi, '/api/devices/{deviceId}/revocation', ['reason'], fallbackReasons);
  const choice = /** @type {HTMLSelectElement} */ (
    select(
      { name: 'reason' },
      reasons.map((r) => [r, humanize(r)]),
      { selected: reason },
    )
  );
  const ok = /** @type {HTMLButtonElement} */ (document.getElementById('confirm-ok'));
  /** @type {HTMLElement | null} */
  let typed = null;
  if (typeToConfirm) {
    const input = /** @type {HTMLInputElement} */ (
      h('input', { name: 'confirm-text', autocomplete: 'off', class: 'mono', placeholder: typeToConfirm })
    );
    input.addEventListener('input', () => {
      ok.disabled = input.value.trim() !== typeToConfirm;
    });
    typed = field(`Type ${typeToConfirm} to confirm`, input);
  }
  ok.disabled = Boolean(typeToConfirm);
  try {
    const confirmed = await confirmDialog({
      title,
      body: [h('p', {}, text), field('Reason', choice), typed],
      confirm,
    });
    return confirmed ? choice.value : undefined;
  } finally {
    ok.disabled = false;
  }
}

/**
 * Sends one request per item, a few at a time; a request refused for the rate limit (429) waits
 * and goes again, so a selection of hundreds is paced by the gateway rather than cut short.
 * @template T
 * @param {T[]} items
 * @param {(item: T) => Promise<unknown>} send
 * @param {{ concurrency?: number, onProgress?: (done: number) => void }} [options]
 * @returns {Promise<{ sent: T[], refused: { item: T, error: unknown }[] }>}
 */
export async function sendEach(items, send, { concurrency = 4, onProgress } = {}) {
  /** @type {T[]} */
  const sent = [];
  /** @type {{ item: T, error: unknown }[]} */
  const refused = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = /** @type {T} */ (items[next++]);
      for (let attempt = 0; ; attempt++) {
        try {
          await send(item);
          sent.push(item);
          break;
        } catch (error) {
          if (error instanceof ApiError && error.status === 429 && attempt < 10) {
            await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
            continue;
          }
          refused.push({ item, error });
          break;
        }
      }
      onProgress?.(sent.length + refused.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return { sent, refused };
}

/**
 * The progress of a revocation the operator started, updated from the live events: a bar, a line
 * of words, done when every device is revoked and none is still connected. It stays (on the pages
 * that follow it) until the operator dismisses it.
 * @param {string} title
 * @param {() => void} onDismiss
 */
export function revocationPanel(title, onDismiss) {
  const bar = h('span', { class: 'seg state-revoked' });
  const label = h('span', { 'data-field': 'revocation-progress' }, 'Starting…');
  const element = h(
    'section',
    { class: 'card revocation-progress', 'aria-label': 'Revocation progress' },
    h(
      'div',
      { class: 'panel-head' },
      h('h2', {}, title),
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          onclick: () => {
            element.remove();
            onDismiss();
          },
        },
        'Dismiss',
      ),
    ),
    h('div', { class: 'progress', role: 'img', 'aria-label': 'Revoked share' }, bar),
    h('p', { class: 'small' }, label),
  );
  return {
    element,
    /** @param {import('./revocation-logic.js').RevocationProgress} progress */
    update(progress) {
      bar.style.width = `${progress.percent}%`;
      replaceChildren(label, revocationLabel(progress));
      element.dataset.done = String(progress.done);
    },
  };
}
