// Shared pieces of the pages: notices, badges, the confirmation dialog, role-gated buttons.
import { ApiError, session } from './api.js';
import { h, replaceChildren } from './dom.js';
import { allows, humanize, requiredRole } from './logic.js';

/**
 * A notice area a page owns; `show(error)` explains an API failure, `success(text)` confirms.
 * @returns {{ element: HTMLElement, error(error: unknown, doing?: string): void, success(text: string, ...more: string[]): void, clear(): void }}
 */
export function notices() {
  const element = h('div', { class: 'notices' });
  return {
    element,
    error(error, doing) {
      const e =
        error instanceof ApiError
          ? error
          : new ApiError(0, {
              error: { code: 'CLIENT', message: String(/** @type {Error} */ (error)?.message ?? error) },
            });
      replaceChildren(
        element,
        h(
          'div',
          { class: 'notice error', role: 'alert' },
          h('strong', {}, doing ? `Could not ${doing}: ` : `${e.title}: `),
          e.message,
          h('span', { class: 'code' }, ` (${e.code})`),
          e.details.length
            ? h(
                'ul',
                {},
                e.details.map((d) => h('li', {}, d)),
              )
            : null,
        ),
      );
    },
    success(text, ...more) {
      replaceChildren(
        element,
        h(
          'div',
          { class: 'notice success', role: 'status' },
          text,
          more.length
            ? h(
                'ul',
                {},
                more.map((m) => h('li', {}, m)),
              )
            : null,
        ),
      );
    },
    clear() {
      element.replaceChildren();
    },
  };
}

/** @param {string} state */
export function stateBadge(state) {
  return h('span', { class: `badge state-${state.toLowerCase()}` }, state);
}

/** @param {string} connection */
export function connectionBadge(connection) {
  const label =
    { never: 'Never connected', connected: 'Connected', disconnected: 'Disconnected' }[connection] ?? connection;
  return h('span', { class: `badge conn-${connection}` }, label);
}

/**
 * Whether the signed-in token may call `method path` (from the OpenAPI document's roles).
 * @param {string} method
 * @param {string} path
 */
export function may(method, path) {
  return allows(session.principal?.role, requiredRole(session.openapi, method, path));
}

/**
 * The owner a create form records its thing for: the signed-in token's owner; editable only by a
 * platform admin (a token for every owner), since another owner's create answers 404 otherwise.
 * @returns {HTMLInputElement}
 */
export function ownerInput() {
  const principal = session.principal;
  return /** @type {HTMLInputElement} */ (
    h('input', {
      name: 'ownerId',
      required: true,
      value: principal?.ownerId ?? 'default',
      readonly: !principal?.allOwners,
      pattern: '[A-Za-z0-9_\\-]{1,128}',
    })
  );
}

/**
 * A button for a command: disabled, with a tooltip saying why, when the role does not allow it.
 * @param {string} label
 * @param {{ method?: string, path: string, onclick: (event: Event) => unknown, class?: string, title?: string, [key: string]: any }} options
 */
export function commandButton(label, { method = 'post', path, onclick, ...attrs }) {
  const allowed = may(method, path);
  const role = requiredRole(session.openapi, method, path);
  return h(
    'button',
    {
      type: 'button',
      ...attrs,
      disabled: !allowed || attrs.disabled,
      title: allowed ? attrs.title : `Needs the ${role} role`,
      onclick: allowed ? onclick : undefined,
    },
    label,
  );
}

/**
 * Runs an action with its button disabled and a busy label, so a double click sends nothing twice.
 * @param {HTMLButtonElement} button
 * @param {() => Promise<unknown>} action
 */
export async function busy(button, action) {
  const label = button.textContent;
  button.disabled = true;
  button.classList.add('busy');
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.classList.remove('busy');
    button.textContent = label;
  }
}

/**
 * The confirmation dialog for destructive actions. Resolves true only on the explicit confirm button.
 * @param {{ title: string, body: (Node | string)[], confirm: string }} options
 * @returns {Promise<boolean>}
 */
export function confirmDialog({ title, body, confirm }) {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('confirm'));
  replaceChildren(/** @type {HTMLElement} */ (document.getElementById('confirm-title')), title);
  replaceChildren(/** @type {HTMLElement} */ (document.getElementById('confirm-body')), ...body);
  replaceChildren(/** @type {HTMLElement} */ (document.getElementById('confirm-ok')), confirm);
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    /** @type {HTMLElement} */ (document.getElementById('confirm-cancel')).focus();
  });
}

/**
 * Definition list rows: [label, value] pairs, values left out when undefined.
 * @param {[string, any][]} rows
 */
export function details(rows) {
  return h(
    'dl',
    { class: 'details' },
    rows
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-field': k }, v)]),
  );
}

/**
 * Wraps a loader so calls never overlap: a call while it runs asks for exactly one more run after
 * it. Live updates arrive faster than a slow read answers; without this they would pile up
 * requests (and the browser allows only six connections to the gateway).
 * @param {() => Promise<void>} load
 * @returns {() => Promise<void>}
 */
export function coalesced(load) {
  /** @type {Promise<void> | undefined} */
  let running;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = load().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        void run();
      }
    });
    return running;
  };
  return run;
}

export { humanize };
