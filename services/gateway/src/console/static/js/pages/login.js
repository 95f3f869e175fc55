// Sign in by pasting an API token (kept in sessionStorage: gone when the tab closes).
import { request, session } from '../api.js';
import { field, h } from '../dom.js';
import { notices } from '../ui.js';

/** @param {import('../app.js').PageContext} context */
export function loginPage(context) {
  const note = notices();
  const input = /** @type {HTMLInputElement} */ (
    h('input', {
      type: 'password',
      name: 'token',
      id: 'token',
      autocomplete: 'off',
      spellcheck: 'false',
      required: true,
      placeholder: 'tk_…',
    })
  );
  const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  if (context.route.query.expired)
    note.error(new Error('Your session ended or the token was revoked. Paste a token to sign in again.'), 'continue');
  const form = h(
    'form',
    {
      class: 'card login',
      onsubmit: async (/** @type {Event} */ event) => {
        event.preventDefault();
        note.clear();
        const token = input.value.trim();
        submit.disabled = true;
        try {
          // Checked before it is kept: a mistyped token never lands in storage.
          await request('GET', '/api/whoami', { token });
          session.token = token;
          await context.signedIn();
          context.navigate('#/batches');
        } catch (error) {
          note.error(error, 'sign in');
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'Paste the API token your administrator gave you. It stays in this browser tab only.'),
    field('API token', input),
    note.element,
    h('div', { class: 'actions' }, submit),
  );
  queueMicrotask(() => input.focus());
  return { element: h('section', { class: 'page narrow', 'data-title': 'Sign in' }, form) };
}
