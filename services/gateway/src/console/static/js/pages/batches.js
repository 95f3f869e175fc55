// Batches: progress per batch (counts per state), create one bound to a policy, import an identity
// file, and the verify / certify / onboard steps as buttons.
import { get, listAll, post, request, session } from '../api.js';
import { field, h, replaceChildren, select, shortId } from '../dom.js';
import {
  batchStage,
  bodyEnum,
  formatCount,
  idFromName,
  identityFileType,
  pageLabel,
  progressSegments,
  routeHash,
} from '../logic.js';
import { batchRevocationProgress } from '../revocation-logic.js';
import { askRevocation, revocationPanel } from '../revocation.js';
import { busy, commandButton, may, notices, ownerInput } from '../ui.js';
import { heldEnrolmentsPanel } from './held-enrolments.js';

const pageSize = 25;
// The device's first TLS key generation: what "certify" means for a new batch.
const tlsKeyId = 'tls-0';

/**
 * The batch whose revocation the operator last started, followed by its live progress.
 * @type {{ batchId: string, panel: ReturnType<typeof revocationPanel> } | undefined}
 */
let tracked;

/** @param {import('../app.js').PageContext} context */
export function batchesPage(context) {
  const note = notices();
  const rows = h('tbody');
  const pager = h('div', { class: 'pager' });
  let offset = Number(context.route.query.offset ?? 0) || 0;
  /** @type {Map<string, any>} */
  const shown = new Map();
  const held = heldEnrolmentsPanel(note);
  const progressArea = h('div');
  // Followed again when the operator comes back to the page, until dismissed.
  if (tracked) progressArea.append(tracked.panel.element);

  /** @param {any} batch */
  const revokeBatch = async (batch) => {
    const reason = await askRevocation({
      title: `Revoke every device of “${batch.name}”?`,
      text: `All ${formatCount(batch.devices)} devices of the batch are revoked with one command and one CRL, and every target cuts them off. This cannot be undone.`,
      confirm: 'Revoke batch',
      reason: 'cessationOfOperation',
      typeToConfirm: batch.batchId,
    });
    if (!reason) return;
    note.clear();
    try {
      const { result } = await post(`/api/batches/${encodeURIComponent(batch.batchId)}/revocation`, { reason });
      const revocation = {
        batchId: batch.batchId,
        panel: revocationPanel(`Revoking batch “${batch.name}”`, () => {
          if (tracked === revocation) tracked = undefined;
        }),
      };
      tracked = revocation;
      revocation.panel.update(batchRevocationProgress(batch));
      replaceChildren(progressArea, revocation.panel.element);
      note.success(
        `Revocation of “${batch.name}” started: ${formatCount(result.devices)} devices` +
          (result.alreadyRevoked ? `, ${formatCount(result.alreadyRevoked)} revoked before` : '') +
          '. Its progress shows below as the devices are cut off.',
      );
    } catch (error) {
      note.error(error, `revoke batch “${batch.name}”`);
    }
  };

  const load = async () => {
    try {
      const page = await get('/api/batches', { limit: pageSize, offset });
      shown.clear();
      replaceChildren(
        rows,
        page.items.length
          ? page.items.map((b) => {
              shown.set(b.batchId, b);
              return batchRow(b);
            })
          : h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No batches yet. Create one above.')),
      );
      replaceChildren(
        pager,
        h('span', { class: 'muted' }, `Batches ${pageLabel(page)}`),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            disabled: offset === 0,
            onclick: () => {
              offset = Math.max(0, offset - pageSize);
              void load();
            },
          },
          'Previous',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            disabled: offset + page.items.length >= page.total,
            onclick: () => {
              offset += pageSize;
              void load();
            },
          },
          'Next',
        ),
      );
    } catch (error) {
      note.error(error, 'load the batches');
    }
  };

  /** @param {any} batch */
  const batchRow = (batch) => {
    const stage = batchStage(batch);
    const segments = progressSegments(batch);
    const problems = batch.verificationFailures + batch.certificateRejections + batch.rejectedRows;
    const id = batch.batchId;
    const act =
      (/** @type {string} */ doing, /** @type {() => Promise<any>} */ action) => async (/** @type {Event} */ event) => {
        note.clear();
        await busy(/** @type {HTMLButtonElement} */ (event.currentTarget), async () => {
          try {
            await action();
          } catch (error) {
            note.error(error, `${doing} batch “${batch.name}”`);
          }
        });
      };
    const fileInput = /** @type {HTMLInputElement} */ (
      h('input', {
        type: 'file',
        accept: '.csv,.json,text/csv,application/json',
        class: 'visually-hidden',
        'aria-label': `Identity file for ${batch.name}`,
        disabled: !may('post', '/api/batches/{batchId}/identities'),
        onchange: async () => {
          const file = fileInput.files?.[0];
          if (!file) return;
          note.clear();
          try {
            const text = await file.text();
            const { result } = await request('POST', `/api/batches/${encodeURIComponent(id)}/identities`, {
              body: text,
              contentType: identityFileType(file.name, text),
            });
            const rejected = result.rows
              .filter((/** @type {any} */ r) => r.status === 'rejected')
              .slice(0, 10)
              .map(
                (/** @type {any} */ r) =>
                  `Row ${r.row}${r.deviceId ? ` (${r.deviceId})` : ''}: ${r.reason ?? 'rejected'}`,
              );
            note.success(
              `Imported ${file.name} into “${batch.name}”: ${formatCount(result.accepted)} accepted, ${formatCount(result.rejected)} rejected.`,
              ...rejected,
            );
          } catch (error) {
            note.error(error, `import ${file.name}`);
          } finally {
            fileInput.value = '';
          }
        },
      })
    );
    const importAllowed = may('post', '/api/batches/{batchId}/identities');
    return h(
      'tr',
      { dataset: { batchId: id } },
      h(
        'td',
        {},
        h('a', { href: routeHash('/devices', { batchId: id }), class: 'strong' }, batch.name),
        h('div', { class: 'muted mono small' }, id),
      ),
      h('td', {}, batch.policyId, h('div', { class: 'muted small' }, `owner ${batch.ownerId}`)),
      h(
        'td',
        { class: 'num', 'data-field': 'devices' },
        `${formatCount(batch.devices)} / ${formatCount(batch.expectedSize)}`,
      ),
      h(
        'td',
        { class: 'progress-cell' },
        h(
          'div',
          {
            class: 'progress',
            role: 'img',
            'aria-label': segments.map((s) => `${s.state} ${s.count}`).join(', ') || 'no devices',
          },
          segments.map((s) =>
            h('span', {
              class: `seg state-${s.state.toLowerCase()}`,
              style: { width: `${s.percent}%` },
              title: `${s.state}: ${s.count}`,
            }),
          ),
        ),
        h(
          'div',
          { class: 'counts' },
          segments.map((s) =>
            h(
              'span',
              { class: 'count', 'data-state': s.state },
              h('i', { class: `dot state-${s.state.toLowerCase()}` }),
              `${s.state} ${formatCount(s.count)}`,
            ),
          ),
        ),
        h('div', { class: 'muted small', 'data-field': 'stage' }, stage.summary),
      ),
      h('td', { class: 'num', 'data-field': 'connected' }, formatCount(batch.connected)),
      h(
        'td',
        {
          class: `num ${problems ? 'warn' : ''}`,
          title: `verification failures ${batch.verificationFailures}, certificate rejections ${batch.certificateRejections}, rejected import rows ${batch.rejectedRows}`,
        },
        formatCount(problems),
      ),
      h(
        'td',
        { class: 'row-actions' },
        h(
          'label',
          {
            class: `button secondary ${importAllowed ? '' : 'disabled'} ${stage.next === 'import' ? 'next' : ''}`,
            title: importAllowed ? 'Upload a CSV or JSON identity file' : 'Needs the operator role',
          },
          'Import file…',
          fileInput,
        ),
        commandButton('Verify', {
          path: '/api/verifications',
          class: stage.next === 'verify' ? 'primary' : 'secondary',
          title: 'Check each device proves its enrolled key',
          onclick: act('verify', () => post('/api/verifications', { scope: { kind: 'batch', batchId: id } })),
        }),
        commandButton('Certify', {
          path: '/api/certifications',
          class: stage.next === 'certify' ? 'primary' : 'secondary',
          title: 'Issue a certificate to each verified device',
          onclick: act('certify', () =>
            post('/api/certifications', { scope: { kind: 'batch', batchId: id }, keyId: tlsKeyId }),
          ),
        }),
        commandButton('Onboard', {
          path: '/api/batches/{batchId}/onboarding',
          class: stage.next === 'onboard' ? 'primary' : 'secondary',
          title: 'Give each certified device access to the policy’s targets',
          onclick: act('onboard', () => post(`/api/batches/${encodeURIComponent(id)}/onboarding`, {})),
        }),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            title: 'Devices an open enrolment-key request held for approval',
            onclick: () => void held.show(batch),
          },
          'Held…',
        ),
        commandButton('Revoke batch…', {
          path: '/api/batches/{batchId}/revocation',
          class: 'danger',
          disabled: batch.devices > 0 && (batch.counts?.Revoked ?? 0) === batch.devices,
          title: 'Revoke every device of the batch',
          onclick: () => void revokeBatch(batch),
        }),
      ),
    );
  };

  const form = createBatchForm(note, () => {
    offset = 0;
    void load();
  });
  void load();

  return {
    element: h(
      'section',
      { class: 'page', 'data-title': 'Batches' },
      h(
        'div',
        { class: 'page-head' },
        h('h1', {}, 'Batches'),
        h(
          'p',
          { class: 'muted' },
          'Create a batch, import its identity file, then verify, certify and onboard. Progress updates live.',
        ),
      ),
      note.element,
      progressArea,
      form.element,
      h(
        'table',
        { class: 'grid', 'aria-label': 'Batches' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Batch', 'Policy', 'Devices', 'Progress', 'Connected', 'Problems', 'Actions'].map((t) => h('th', {}, t)),
          ),
        ),
        rows,
      ),
      pager,
      held.element,
    ),
    onLive(type, data) {
      if (type === 'batch' && data.batchId === tracked?.batchId) tracked.panel.update(batchRevocationProgress(data));
      if (type === 'batch' && shown.has(data.batchId)) {
        shown.set(data.batchId, data);
        rows.querySelector(`tr[data-batch-id="${CSS.escape(data.batchId)}"]`)?.replaceWith(batchRow(data));
      } else if ((type === 'batch' && offset === 0) || type === 'hello') void load();
      else if (type === 'catalog' && data.policies) void form.reloadPolicies();
    },
  };
}

/**
 * @param {ReturnType<typeof notices>} note
 * @param {() => void} created
 */
function createBatchForm(note, created) {
  const allowed = may('post', '/api/batches');
  const name = /** @type {HTMLInputElement} */ (
    h('input', { name: 'name', required: true, maxlength: 200, placeholder: '1,000 fridges, line 3' })
  );
  const batchId = /** @type {HTMLInputElement} */ (
    h('input', { name: 'batchId', required: true, pattern: '[A-Za-z0-9_\\-]{1,128}', class: 'mono' })
  );
  const policy = /** @type {HTMLSelectElement} */ (
    select({ name: 'policyId', required: true }, [], { any: 'Loading policies…' })
  );
  const owner = ownerInput();
  const size = /** @type {HTMLInputElement} */ (
    h('input', { name: 'expectedSize', type: 'number', min: 1, required: true, value: '100' })
  );
  const profiles = bodyEnum(session.openapi, '/api/batches', ['pufProfile'], ['sram', 'tunnelling']);
  const profile = /** @type {HTMLSelectElement} */ (
    select(
      { name: 'pufProfile' },
      profiles.map((p) => [p, p === 'sram' ? 'SRAM PUF' : p === 'tunnelling' ? 'Tunnelling PUF' : p]),
      { any: 'As the devices report' },
    )
  );
  let idTouched = false;
  const suffix = shortId();
  name.addEventListener('input', () => {
    if (!idTouched) batchId.value = idFromName(name.value, suffix);
  });
  batchId.addEventListener('input', () => {
    idTouched = true;
  });
  const submit = /** @type {HTMLButtonElement} */ (
    h(
      'button',
      { type: 'submit', class: 'primary', disabled: !allowed, title: allowed ? undefined : 'Needs the operator role' },
      'Create batch',
    )
  );

  const reloadPolicies = async () => {
    try {
      const policies = await listAll('/api/policies');
      const keep = policy.value;
      replaceChildren(
        policy,
        h(
          'option',
          { value: '' },
          policies.length ? 'Choose a policy…' : 'No policies yet: create one under Targets & policies',
        ),
        policies.map((p) =>
          h('option', { value: p.policyId, selected: p.policyId === keep }, `${p.name} (${p.policyId})`),
        ),
      );
    } catch (error) {
      note.error(error, 'load the policies');
    }
  };
  void reloadPolicies();

  const element = h(
    'details',
    // Hidden, not just disabled, for a viewer: nothing on the page they cannot do.
    { class: 'card', open: true, hidden: !allowed },
    h('summary', {}, 'New batch'),
    h(
      'form',
      {
        class: 'form-grid',
        'aria-label': 'New batch',
        onsubmit: async (/** @type {Event} */ event) => {
          event.preventDefault();
          note.clear();
          await busy(submit, async () => {
            try {
              await post('/api/batches', {
                batchId: batchId.value,
                name: name.value,
                policyId: policy.value,
                ownerId: owner.value,
                expectedSize: Number(size.value),
                ...(profile.value ? { pufProfile: profile.value } : {}),
              });
              note.success(`Batch “${name.value}” created. Import its identity file next.`);
              created();
            } catch (error) {
              note.error(error, 'create the batch');
            }
          });
        },
      },
      field('Name', name),
      field('Server policy', policy, 'Where its devices connect and what they may do'),
      field('Expected devices', size),
      field('Owner', owner, 'The tenant whose CA certifies them'),
      field('PUF type', profile),
      field('Batch id', batchId, 'Generated from the name; change it if you like'),
      h('div', { class: 'actions' }, submit),
    ),
  );
  return { element, reloadPolicies };
}
