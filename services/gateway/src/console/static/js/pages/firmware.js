// Firmware: the released images (signed ECDSA P-256 + ML-DSA-65 by the OTA service), an upload
// (streamed to the object store, its SHA-256 and size declared and checked, then registered under
// a product and version) and the start of a rollout in waves, which opens the rollout's page.
import { ApiError, listAll, post, session } from '../api.js';
import { field, h, replaceChildren, select, shortId } from '../dom.js';
import { formatTime, idFromName, routeHash } from '../logic.js';
import { parseWaves, sha256Hex } from '../rollout-logic.js';
import { busy, commandButton, notices } from '../ui.js';

const uploadPath = '/api/firmware/uploads';

/** @param {import('../app.js').PageContext} context */
export function firmwarePage({ navigate }) {
  const note = notices();
  const rows = h('tbody');
  /** @type {any[]} */
  let images = [];

  // ---- upload ----
  const file = /** @type {HTMLInputElement} */ (h('input', { type: 'file', required: true }));
  const product = /** @type {HTMLInputElement} */ (h('input', { required: true, placeholder: 'fridge-x200' }));
  const version = /** @type {HTMLInputElement} */ (h('input', { required: true, placeholder: '2.0.0' }));
  const uploadButton = commandButton('Upload and sign', {
    path: '/api/firmware',
    class: 'primary',
    onclick: (/** @type {Event} */ e) => void upload(/** @type {HTMLButtonElement} */ (e.currentTarget)),
  });
  const uploadForm = h(
    'section',
    { class: 'card', 'aria-label': 'Upload an image' },
    h('h2', {}, 'Upload an image'),
    h(
      'div',
      { class: 'form-grid' },
      field('Image file', file, 'Streamed to the object store; its SHA-256 and size are checked on the way'),
      field('Product', product, 'The hardware id the image is for (registered by an admin)'),
      field('Version', version, 'Above the product’s current release, e.g. 2.0.0'),
      h('div', { class: 'actions' }, uploadButton),
    ),
  );

  // ---- rollout ----
  const firmwareSelect = /** @type {HTMLSelectElement} */ (select({ required: true }, []));
  const batchesSelect = /** @type {HTMLSelectElement} */ (select({ multiple: true, size: 4, required: true }, []));
  const waves = /** @type {HTMLInputElement} */ (h('input', { value: '5, 25, 100' }));
  const maxFailure = /** @type {HTMLInputElement} */ (
    h('input', { type: 'number', min: '0', max: '100', value: '10', required: true })
  );
  const startButton = commandButton('Start rollout', {
    path: '/api/rollouts',
    class: 'primary',
    onclick: (/** @type {Event} */ e) => void start(/** @type {HTMLButtonElement} */ (e.currentTarget)),
  });
  const rolloutForm = h(
    'section',
    { class: 'card', 'aria-label': 'Start a rollout' },
    h('h2', {}, 'Start a rollout'),
    h(
      'div',
      { class: 'form-grid' },
      field('Image', firmwareSelect),
      field('Batches', batchesSelect, 'Revoked, offline, uncertified devices are excluded, each with its reason'),
      field('Waves (%)', waves, 'Cumulative, ending at 100: the next wave starts once one is done'),
      field('Pause above (% failed)', maxFailure, 'A wave with more failures pauses the rollout'),
      h('div', { class: 'actions' }, startButton),
    ),
  );

  const openId = /** @type {HTMLInputElement} */ (h('input', { placeholder: 'rollout id' }));
  const openForm = h(
    'form',
    {
      class: 'row-actions',
      'aria-label': 'Open a rollout',
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        if (openId.value.trim()) navigate(routeHash('/rollout', { id: openId.value.trim() }));
      },
    },
    field('Rollout', openId),
    h('button', { type: 'submit', class: 'secondary' }, 'Open'),
  );

  const element = h(
    'section',
    { class: 'page', 'data-title': 'Firmware' },
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Firmware'),
      h(
        'p',
        { class: 'muted' },
        'Every release is signed twice (ECDSA P-256 and ML-DSA-65) and encrypted per rollout.',
      ),
      openForm,
    ),
    note.element,
    h(
      'section',
      { class: 'card', 'aria-label': 'Images' },
      h('h2', {}, 'Images'),
      h(
        'table',
        { class: 'grid', 'aria-label': 'Firmware images' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Product', 'Version', 'Image', 'Size', 'SHA-256', 'Metadata', 'Expires', 'Registered'].map((t) =>
              h('th', {}, t),
            ),
          ),
        ),
        rows,
      ),
    ),
    uploadForm,
    rolloutForm,
  );

  const imageRow = (/** @type {any} */ image) =>
    h(
      'tr',
      { dataset: { firmwareId: image.firmwareId } },
      h('td', {}, image.product),
      h('td', { 'data-field': 'version' }, image.version),
      h('td', { class: 'mono small' }, image.firmwareId),
      h(
        'td',
        { class: 'num' },
        `${(image.sizeBytes / 1024).toLocaleString('en-US', { maximumFractionDigits: 1 })} KiB`,
      ),
      h('td', { class: 'mono small', title: image.imageDigest }, image.imageDigest.slice(0, 16)),
      h('td', { class: 'num' }, `v${image.metadataVersion} · ${image.signingKeyId}`),
      h('td', {}, formatTime(image.expiresAt)),
      h('td', {}, formatTime(image.registeredAt)),
    );

  const load = async () => {
    try {
      const [{ result }, batches] = await Promise.all([post('/api/firmware/list', {}), listAll('/api/batches')]);
      images = result.images;
      replaceChildren(
        rows,
        images.length
          ? images.map(imageRow)
          : h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No image yet: upload one below.')),
      );
      replaceChildren(
        firmwareSelect,
        images.map((i) => h('option', { value: i.firmwareId }, `${i.product} ${i.version} (${i.firmwareId})`)),
      );
      replaceChildren(
        batchesSelect,
        batches.map((/** @type {any} */ b) => h('option', { value: b.batchId }, `${b.name} (${b.batchId})`)),
      );
    } catch (error) {
      note.error(error, 'load the firmware images');
    }
  };

  const upload = (/** @type {HTMLButtonElement} */ button) =>
    busy(button, async () => {
      note.clear();
      const chosen = file.files?.[0];
      if (!chosen || !product.value.trim() || !version.value.trim()) {
        note.error(new Error('choose a file and give its product and version'), 'upload');
        return;
      }
      try {
        const bytes = await chosen.arrayBuffer();
        const sha256 = await sha256Hex(bytes);
        const url = new URL(uploadPath, location.origin);
        url.searchParams.set('sha256', sha256);
        url.searchParams.set('size', String(bytes.byteLength));
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${session.token}`,
            'content-type': 'application/octet-stream',
            accept: 'application/json',
          },
          body: bytes,
        });
        const uploaded = await response.json().catch(() => undefined);
        if (!response.ok) throw new ApiError(response.status, uploaded);
        const firmwareId = idFromName(`${product.value.trim()}-${version.value.trim()}`, shortId());
        await post('/api/firmware', {
          firmwareId,
          product: product.value.trim(),
          version: version.value.trim(),
          imageDigest: sha256,
          sizeBytes: bytes.byteLength,
          objectName: uploaded.objectName,
        });
        note.success(`Image ${product.value} ${version.value} uploaded and signed (${firmwareId}).`);
        await load();
        firmwareSelect.value = firmwareId;
      } catch (error) {
        note.error(error, 'upload and register the image');
      }
    });

  const start = (/** @type {HTMLButtonElement} */ button) =>
    busy(button, async () => {
      note.clear();
      const parsed = parseWaves(waves.value);
      const batchIds = [...batchesSelect.selectedOptions].map((o) => o.value);
      if ('error' in parsed) return note.error(new Error(parsed.error), 'start the rollout');
      if (!firmwareSelect.value || batchIds.length === 0)
        return note.error(new Error('choose an image and at least one batch'), 'start the rollout');
      const rolloutId = idFromName(`rollout-${firmwareSelect.value}`, shortId());
      try {
        await post('/api/rollouts', {
          rolloutId,
          firmwareId: firmwareSelect.value,
          batchIds,
          waves: parsed.waves,
          maxFailurePercent: Number(maxFailure.value),
        });
        navigate(routeHash('/rollout', { id: rolloutId }));
      } catch (error) {
        note.error(error, 'start the rollout');
      }
      return undefined;
    });

  void load();
  return { element };
}
