// Held enrolments of a batch: devices that answered an open enrolment-key request without a valid
// manufacturer attestation wait here for an operator to approve (they join the batch) or reject them.
import { get, post } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { pageLabel } from '../logic.js';
import { busy, commandButton } from '../ui.js';

const decisionsPath = '/api/batches/{batchId}/enrolment-key-requests/{requestId}/decisions';

/** @param {ReturnType<typeof import('../ui.js').notices>} note */
export function heldEnrolmentsPanel(note) {
  const title = h('h2', {}, 'Held for approval');
  const rows = h('tbody');
  const summary = h('p', { class: 'muted' });
  const element = h(
    'section',
    { class: 'card', hidden: true, 'aria-label': 'Held enrolments' },
    title,
    summary,
    h(
      'table',
      { class: 'grid', 'aria-label': 'Held devices' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Device', 'Request', 'Reason', 'Key digest', 'Decision', 'Actions'].map((t) => h('th', {}, t)),
        ),
      ),
      rows,
    ),
  );
  /** @type {any} */
  let batch;

  const show = async (/** @type {any} */ shown) => {
    batch = shown;
    element.hidden = false;
    replaceChildren(title, `Held for approval: ${batch.name}`);
    try {
      const page = await get(`/api/batches/${encodeURIComponent(batch.batchId)}/held-enrolments`, { limit: 500 });
      replaceChildren(
        summary,
        page.total
          ? `Devices ${pageLabel(page)}: they answered an open enrolment-key request without a valid manufacturer attestation.`
          : 'No device is held: every answer so far was attested, or nobody answered an open request.',
      );
      replaceChildren(rows, page.items.map(heldRow));
    } catch (error) {
      note.error(error, `load the held enrolments of “${batch.name}”`);
    }
  };

  const decide =
    (/** @type {any} */ held, /** @type {'approve' | 'reject'} */ decision) => async (/** @type {Event} */ event) => {
      note.clear();
      await busy(/** @type {HTMLButtonElement} */ (event.currentTarget), async () => {
        try {
          const { result } = await post(
            `/api/batches/${encodeURIComponent(batch.batchId)}/enrolment-key-requests/${encodeURIComponent(held.requestId)}/decisions`,
            { deviceIds: [held.deviceId], decision },
          );
          const outcome = result.devices[0]?.outcome;
          if (outcome === 'approved' || outcome === 'rejected') note.success(`Device ${held.deviceId} ${outcome}.`);
          else note.error(new Error(`not decided: ${outcome}`), `${decision} device ${held.deviceId}`);
        } catch (error) {
          note.error(error, `${decision} device ${held.deviceId}`);
        }
        await show(batch);
      });
    };

  const heldRow = (/** @type {any} */ held) =>
    h(
      'tr',
      { dataset: { heldDeviceId: held.deviceId } },
      h('td', { class: 'mono' }, held.deviceId),
      h('td', { class: 'mono small' }, held.requestId),
      h('td', {}, held.reason),
      h('td', { class: 'mono small', title: held.enrolmentKeyDigest }, held.enrolmentKeyDigest.slice(0, 16)),
      h('td', { 'data-field': 'decision' }, held.decision),
      h(
        'td',
        { class: 'row-actions' },
        held.decision === 'pending'
          ? [
              commandButton('Approve', {
                path: decisionsPath,
                class: 'primary',
                title: 'The device joins the batch',
                onclick: decide(held, 'approve'),
              }),
              commandButton('Reject', {
                path: decisionsPath,
                class: 'secondary',
                title: 'The device stays out of the batch',
                onclick: decide(held, 'reject'),
              }),
            ]
          : [],
      ),
    );

  return { element, show };
}
