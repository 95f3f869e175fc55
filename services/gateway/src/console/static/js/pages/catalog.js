// Targets (where devices connect) and server policies (which targets, which topics, how long a
// certificate lives): lists for everyone, forms for admins.
import { listAll, post, session } from '../api.js';
import { field, h, replaceChildren, select, shortId } from '../dom.js';
import { bodyEnum, formatCount, formatTime, humanize, idFromName } from '../logic.js';
import { busy, may, notices, ownerInput } from '../ui.js';

export function catalogPage() {
  const note = notices();
  const policyRows = h('tbody');
  const targetRows = h('tbody');
  /** @type {any[]} */
  let targets = [];
  const policyForm = newPolicyForm(note);

  const load = async () => {
    try {
      const [policies, loadedTargets] = await Promise.all([listAll('/api/policies'), listAll('/api/targets')]);
      targets = loadedTargets;
      policyForm.setTargets(targets);
      replaceChildren(
        policyRows,
        policies.length
          ? policies.map((p) =>
              h(
                'tr',
                { dataset: { policyId: p.policyId } },
                h(
                  'td',
                  {},
                  h('span', { class: 'strong' }, p.name),
                  h('div', { class: 'muted mono small' }, p.policyId),
                ),
                h(
                  'td',
                  {},
                  p.targetIds.length
                    ? p.targetIds.map((/** @type {string} */ t) =>
                        h('span', { class: 'chip' }, targets.find((x) => x.targetId === t)?.name ?? t),
                      )
                    : h('span', { class: 'muted' }, 'none'),
                ),
                h(
                  'td',
                  {},
                  h(
                    'ul',
                    { class: 'plain' },
                    p.topicRights.map((/** @type {any} */ r) =>
                      h('li', {}, h('span', { class: 'mono' }, r.topic), ` · ${humanize(r.access)}`),
                    ),
                  ),
                ),
                h('td', { class: 'num' }, `${formatCount(p.certificateLifetimeDays)} days`),
                h('td', {}, formatTime(p.definedAt)),
              ),
            )
          : h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No policies yet.')),
      );
      replaceChildren(
        targetRows,
        targets.length
          ? targets.map((t) =>
              h(
                'tr',
                { dataset: { targetId: t.targetId } },
                h(
                  'td',
                  {},
                  h('span', { class: 'strong' }, t.name),
                  h('div', { class: 'muted mono small' }, t.targetId),
                ),
                h('td', {}, humanize(t.kind)),
                h('td', { class: 'mono' }, `${t.host}:${t.tlsPort}`),
                h('td', { class: 'num' }, formatCount(t.onboarded)),
                h('td', { class: 'num' }, formatCount(t.connected)),
                h('td', {}, formatTime(t.registeredAt)),
              ),
            )
          : h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No targets yet.')),
      );
    } catch (error) {
      note.error(error, 'load targets and policies');
    }
  };
  void load();

  return {
    element: h(
      'section',
      { class: 'page', 'data-title': 'Targets & policies' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Targets & policies')),
      note.element,
      h('h2', {}, 'Server policies'),
      policyForm.element,
      h(
        'table',
        { class: 'grid', 'aria-label': 'Policies' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Policy', 'Targets', 'Topic rights', 'Certificates live', 'Defined'].map((t) => h('th', {}, t)),
          ),
        ),
        policyRows,
      ),
      h('h2', {}, 'Targets'),
      newTargetForm(note),
      h(
        'table',
        { class: 'grid', 'aria-label': 'Targets' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Target', 'Kind', 'Address', 'Onboarded', 'Connected', 'Registered'].map((t) => h('th', {}, t)),
          ),
        ),
        targetRows,
      ),
    ),
    onLive(type) {
      if (type === 'catalog' || type === 'hello') void load();
    },
  };
}

/** @param {ReturnType<typeof notices>} note */
function newPolicyForm(note) {
  const allowed = may('post', '/api/policies');
  const suffix = shortId();
  let idTouched = false;
  const name = /** @type {HTMLInputElement} */ (
    h('input', { name: 'policyName', required: true, maxlength: 200, placeholder: 'Fridges to the plant broker' })
  );
  const policyId = /** @type {HTMLInputElement} */ (
    h('input', { name: 'policyId', required: true, class: 'mono', pattern: '[A-Za-z0-9_\\-]{1,128}' })
  );
  const lifetime = /** @type {HTMLInputElement} */ (
    h('input', { name: 'certificateLifetimeDays', type: 'number', min: 1, max: 3650, required: true, value: '365' })
  );
  const targetBox = h(
    'fieldset',
    { class: 'checks' },
    h('legend', {}, 'Targets'),
    h('span', { class: 'muted' }, 'No targets registered yet'),
  );
  // A policy may name a target that is registered later (a broker still being set up).
  const laterTargets = /** @type {HTMLInputElement} */ (
    h('input', {
      name: 'laterTargetIds',
      class: 'mono',
      placeholder: 'plant-broker, cloud-hub',
      pattern: '[A-Za-z0-9_\\-]{1,128}(\\s*,\\s*[A-Za-z0-9_\\-]{1,128})*',
    })
  );
  const accessValues = bodyEnum(
    session.openapi,
    '/api/policies',
    ['topicRights', 'access'],
    ['publish', 'subscribe', 'publish-subscribe'],
  );
  const rights = h('div', { class: 'rights' });
  const addRight = (/** @type {string} */ topic = '', /** @type {string} */ access = 'publish') => {
    const row = h(
      'div',
      { class: 'right-row' },
      field(
        'Topic',
        h('input', {
          name: 'topic',
          required: true,
          value: topic,
          class: 'mono',
          placeholder: 'devices/{deviceId}/telemetry',
        }),
      ),
      field(
        'Access',
        select(
          { name: 'access' },
          accessValues.map((a) => [a, humanize(a)]),
          { selected: access },
        ),
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          'aria-label': 'Remove this topic right',
          onclick: () => rights.children.length > 1 && row.remove(),
        },
        'Remove',
      ),
    );
    rights.append(row);
  };
  addRight('devices/{deviceId}/telemetry', 'publish');
  name.addEventListener('input', () => {
    if (!idTouched) policyId.value = idFromName(name.value, suffix);
  });
  policyId.addEventListener('input', () => {
    idTouched = true;
  });
  const owner = ownerInput();
  const submit = /** @type {HTMLButtonElement} */ (
    h('button', { type: 'submit', class: 'primary', disabled: !allowed }, 'Create policy')
  );

  const element = h(
    'details',
    { class: 'card', hidden: !allowed },
    h('summary', {}, 'New policy'),
    h(
      'form',
      {
        class: 'form-grid',
        'aria-label': 'New policy',
        onsubmit: async (/** @type {Event} */ event) => {
          event.preventDefault();
          note.clear();
          const topicRights = [...rights.querySelectorAll('.right-row')].map((row) => ({
            topic: /** @type {HTMLInputElement} */ (row.querySelector('input[name=topic]')).value.trim(),
            access: /** @type {HTMLSelectElement} */ (row.querySelector('select[name=access]')).value,
          }));
          const later = laterTargets.value
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean);
          const targetIds = [
            ...new Set([
              ...[...targetBox.querySelectorAll('input:checked')].map((i) => /** @type {HTMLInputElement} */ (i).value),
              ...later,
            ]),
          ];
          await busy(submit, async () => {
            try {
              await post('/api/policies', {
                policyId: policyId.value,
                name: name.value,
                ownerId: owner.value,
                targetIds,
                topicRights,
                certificateLifetimeDays: Number(lifetime.value),
              });
              note.success(`Policy “${name.value}” created. Batches can now use it.`);
            } catch (error) {
              note.error(error, 'create the policy');
            }
          });
        },
      },
      field('Name', name),
      field('Policy id', policyId, 'Generated from the name'),
      field('Owner', owner, 'The tenant whose batches may use it'),
      field('Certificate lifetime (days)', lifetime),
      targetBox,
      field('Targets registered later (ids)', laterTargets, 'Comma-separated; for a target not registered yet'),
      h(
        'fieldset',
        { class: 'wide' },
        h('legend', {}, 'Topic rights ({deviceId} becomes each device’s id)'),
        rights,
        h('button', { type: 'button', class: 'secondary', onclick: () => addRight() }, 'Add topic right'),
      ),
      h('div', { class: 'actions' }, submit),
    ),
  );
  return {
    element,
    /** @param {any[]} targets */
    setTargets(targets) {
      const checked = new Set(
        [...targetBox.querySelectorAll('input:checked')].map((i) => /** @type {HTMLInputElement} */ (i).value),
      );
      replaceChildren(
        targetBox,
        h('legend', {}, 'Targets'),
        targets.length
          ? targets.map((t) =>
              h(
                'label',
                { class: 'check' },
                h('input', {
                  type: 'checkbox',
                  name: 'targetIds',
                  value: t.targetId,
                  checked: checked.has(t.targetId),
                }),
                ` ${t.name}`,
              ),
            )
          : h('span', { class: 'muted' }, 'No targets registered yet'),
      );
    },
  };
}

/** @param {ReturnType<typeof notices>} note */
function newTargetForm(note) {
  const allowed = may('post', '/api/targets');
  const suffix = shortId();
  let idTouched = false;
  const kinds = bodyEnum(session.openapi, '/api/targets', ['kind'], ['mosquitto']);
  const kind = /** @type {HTMLSelectElement} */ (
    select(
      { name: 'kind' },
      kinds.map((k) => [k, humanize(k)]),
    )
  );
  const name = /** @type {HTMLInputElement} */ (
    h('input', { name: 'targetName', required: true, maxlength: 200, placeholder: 'Plant broker' })
  );
  const targetId = /** @type {HTMLInputElement} */ (
    h('input', { name: 'targetId', required: true, class: 'mono', pattern: '[A-Za-z0-9_\\-]{1,128}' })
  );
  const host = /** @type {HTMLInputElement} */ (
    h('input', { name: 'host', required: true, placeholder: 'mqtt.example.com' })
  );
  const tlsPort = /** @type {HTMLInputElement} */ (
    h('input', { name: 'tlsPort', type: 'number', min: 1, max: 65535, required: true, value: '8883' })
  );
  const username = /** @type {HTMLInputElement} */ (
    h('input', { name: 'adminUsername', required: true, autocomplete: 'off' })
  );
  // The admin password never passes through the console: the platform team mounts it as a file in
  // the onboarding service's secrets directory, and the form names that file.
  const passwordFile = /** @type {HTMLInputElement} */ (
    h('input', {
      name: 'adminPasswordFile',
      required: true,
      class: 'mono',
      autocomplete: 'off',
      pattern: '[A-Za-z0-9_\\-]{1,128}',
      placeholder: 'plant-broker-admin',
    })
  );
  const adminHost = /** @type {HTMLInputElement} */ (h('input', { name: 'adminHost', placeholder: 'same as host' }));
  const adminCaPem = /** @type {HTMLTextAreaElement} */ (
    h('textarea', { name: 'adminCaPem', rows: 3, class: 'mono', placeholder: '-----BEGIN CERTIFICATE-----' })
  );
  const adminPort = /** @type {HTMLInputElement} */ (
    h('input', { name: 'adminPort', type: 'number', min: 1, max: 65535, placeholder: 'same as TLS port' })
  );
  name.addEventListener('input', () => {
    if (!idTouched) targetId.value = idFromName(name.value, suffix);
  });
  targetId.addEventListener('input', () => {
    idTouched = true;
  });
  const owner = ownerInput();
  const submit = /** @type {HTMLButtonElement} */ (
    h('button', { type: 'submit', class: 'primary', disabled: !allowed }, 'Register target')
  );
  return h(
    'details',
    { class: 'card', hidden: !allowed },
    h('summary', {}, 'Register a target'),
    h(
      'form',
      {
        class: 'form-grid',
        'aria-label': 'Register a target',
        onsubmit: async (/** @type {Event} */ event) => {
          event.preventDefault();
          note.clear();
          await busy(submit, async () => {
            try {
              const admin = {
                username: username.value,
                passwordFile: passwordFile.value.trim(),
                ...(adminHost.value.trim() ? { host: adminHost.value.trim() } : {}),
                ...(adminPort.value ? { port: Number(adminPort.value) } : {}),
                ...(adminCaPem.value.trim() ? { tls: { caPem: adminCaPem.value.trim() } } : {}),
              };
              await post('/api/targets', {
                targetId: targetId.value,
                kind: kind.value,
                name: name.value,
                ownerId: owner.value,
                host: host.value.trim(),
                tlsPort: Number(tlsPort.value),
                admin,
              });
              note.success(`Target “${name.value}” registered.`);
            } catch (error) {
              note.error(error, 'register the target');
            }
          });
        },
      },
      field('Kind', kind),
      field('Name', name),
      field('Target id', targetId, 'Generated from the name'),
      field('Owner', owner, 'The tenant whose policies may name it'),
      field('Host', host),
      field('TLS port', tlsPort),
      field('Admin user', username, 'For the broker’s management API (dynamic security)'),
      field(
        'Admin password file',
        passwordFile,
        'Name of the secret file mounted in the onboarding service (ONBOARDING_TARGET_SECRETS_DIR); the password itself never goes through the console',
      ),
      field('Admin host', adminHost, 'Optional; when the admin listener is on another host'),
      field('Admin port', adminPort),
      field(
        'Admin TLS CA (PEM)',
        adminCaPem,
        'Optional; MQTT over TLS to the admin listener, verified against this CA',
      ),
      h('div', { class: 'actions' }, submit),
    ),
  );
}
