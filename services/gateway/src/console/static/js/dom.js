// A tiny element builder. Text always goes in as text nodes, never as HTML: whatever a device id
// or an error message contains, it cannot become markup.

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 */

/**
 * h('button', { class: 'primary', onclick: fn, disabled: true }, 'Verify')
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    // Through the CSSOM: the CSP allows no inline style attributes.
    else if (name === 'style') Object.assign(element.style, value);
    else if (name === 'value' || name === 'checked' || name === 'selected') /** @type {any} */ (element)[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/**
 * @param {Element} parent
 * @param {(Child | Child[])[]} children
 */
export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * @param {Element} element
 * @param {...(Child | Child[])} children
 */
export function replaceChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/**
 * A <select> from values (or [value, label] pairs), with an optional first "any" option.
 * @param {Record<string, any>} attrs
 * @param {(string | [string, string])[]} options
 * @param {{ selected?: string, any?: string }} [extra]
 */
export function select(attrs, options, extra = {}) {
  const items = options.map((o) => (Array.isArray(o) ? o : [o, o]));
  return h(
    'select',
    attrs,
    extra.any !== undefined ? h('option', { value: '' }, extra.any) : null,
    items.map(([value, label]) => h('option', { value, selected: value === extra.selected }, label)),
  );
}

let fieldIds = 0;

/**
 * A labelled form field. The label holds only its text and points at the control (`for`), so the
 * control's accessible name is exactly the label: screen readers and tests find it by that name.
 * @param {string} label
 * @param {HTMLElement} control
 * @param {string} [hint]
 */
export function field(label, control, hint) {
  control.id ||= `f${++fieldIds}`;
  const hintElement = hint ? h('small', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintElement) control.setAttribute('aria-describedby', hintElement.id);
  return h('div', { class: 'field' }, h('label', { class: 'label', for: control.id }, label), control, hintElement);
}

/** A short random suffix for generated ids. */
export function shortId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) => b.toString(16).padStart(2, '0')).join('');
}
