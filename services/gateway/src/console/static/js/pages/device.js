// One device: identity, certificate (subject, issuer, serial, validity, fingerprint, chain),
// connection per target, telemetry, its timeline from the log; onboard and revoke.
import { get, post } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { foldTimeline, formatCount, formatTime, humanize, relativeTime, routeHash } from '../logic.js';
import { askRevocation } from '../revocation.js';
import { busy, coalesced, commandButton, connectionBadge, details, notices, stateBadge } from '../ui.js';

/** @param {import('../app.js').PageContext} context */
export function devicePage(context) {
  const deviceId = /** @type {string} */ (context.route.id);
  const note = notices();
  const body = h('div', { class: 'device-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const timeline = h(
    'ol',
    { class: 'timeline', 'aria-label': 'Timeline' },
    h('li', { class: 'muted' }, 'Reading the log…'),
  );
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let refetch;

  // The detail (read model) answers at once; the timeline is read from the log and may take
  // longer: two loaders, each never overlapping itself.
  const loadDetail = coalesced(async () => {
    try {
      replaceChildren(body, ...render(await get(`/api/devices/${encodeURIComponent(deviceId)}`)));
    } catch (error) {
      note.error(error, `load device ${deviceId}`);
      replaceChildren(body);
    }
  });
  const loadTimeline = coalesced(async () => {
    try {
      // Paged on the server: the first 500 events (a device has a few dozen).
      const { events } = await get(`/api/devices/${encodeURIComponent(deviceId)}/history?limit=500`);
      replaceChildren(
        timeline,
        foldTimeline(events).map((e) =>
          h(
            'li',
            { 'data-type': e.type },
            h('time', { datetime: e.occurredAt }, formatTime(e.occurredAt)),
            h('span', { class: 'ctx' }, e.context),
            h('strong', {}, e.type),
            h('span', {}, e.summary),
            e.actor ? h('span', { class: 'muted small' }, `by ${e.actor.id}`) : null,
          ),
        ),
      );
    } catch (error) {
      replaceChildren(
        timeline,
        h('li', { class: 'muted' }, `The timeline could not be read: ${/** @type {Error} */ (error).message}`),
      );
    }
  });
  const load = () => {
    void loadDetail();
    void loadTimeline();
  };

  /** @param {any} device */
  const render = (device) => {
    const now = Date.now();
    const cert = device.certificate;
    const revoked = device.state === 'Revoked' || Boolean(device.revocation);
    const actions = h(
      'div',
      { class: 'row-actions' },
      commandButton('Onboard', {
        path: '/api/devices/{deviceId}/onboarding',
        class: device.state === 'Certified' ? 'primary' : 'secondary',
        disabled: revoked || !cert,
        title: 'Give this device access to its policy’s targets',
        onclick: async (/** @type {Event} */ event) => {
          note.clear();
          await busy(/** @type {HTMLButtonElement} */ (event.currentTarget), async () => {
            try {
              await post(`/api/devices/${encodeURIComponent(deviceId)}/onboarding`, {});
              note.success('Onboarding started. The connection status updates here.');
            } catch (error) {
              note.error(error, 'onboard the device');
            }
          });
        },
      }),
      commandButton('Renew certificate', {
        path: '/api/renewals',
        class: 'secondary',
        disabled: revoked || !cert,
        title: 'Rotate, then revoke: a new key and certificate, the old one revoked once the device switched',
        onclick: async (/** @type {Event} */ event) => {
          note.clear();
          await busy(/** @type {HTMLButtonElement} */ (event.currentTarget), async () => {
            try {
              await post('/api/renewals', { scope: { kind: 'device', deviceId }, reason: 'operator' });
              note.success('Renewal started. The new certificate and the revoked one show here.');
            } catch (error) {
              note.error(error, 'renew the certificate');
            }
          });
        },
      }),
      commandButton(revoked ? 'Revoked' : 'Revoke…', {
        path: '/api/devices/{deviceId}/revocation',
        class: 'danger',
        disabled: revoked,
        onclick: () => void revoke(),
      }),
    );
    return [
      h(
        'div',
        { class: 'page-head' },
        h('h1', { class: 'mono' }, device.deviceId),
        stateBadge(device.state),
        connectionBadge(device.connection),
        actions,
      ),
      h(
        'div',
        { class: 'columns' },
        h(
          'section',
          { class: 'card', 'aria-label': 'Identity' },
          h('h2', {}, 'Identity'),
          details([
            ['Device id', h('span', { class: 'mono' }, device.deviceId)],
            [
              'Batch',
              device.batchId
                ? h('a', { href: routeHash('/devices', { batchId: device.batchId }) }, device.batchId)
                : undefined,
            ],
            ['State', `${device.state} since ${formatTime(device.stateChangedAt)}`],
            [
              'Enrolment key digest',
              device.identity ? h('span', { class: 'mono wrap' }, device.identity.enrolmentKeyDigest) : undefined,
            ],
            ['Verified', device.verifiedAt ? formatTime(device.verifiedAt) : undefined],
            [
              'Verification problem',
              device.verificationFailure
                ? `${device.verificationFailure.reason} (${formatTime(device.verificationFailure.at)})`
                : undefined,
            ],
            [
              'Certificate refused',
              device.certificateRejection
                ? `${device.certificateRejection.reason} (${formatTime(device.certificateRejection.at)})`
                : undefined,
            ],
            [
              'Last renewal',
              device.renewal
                ? `${humanize(device.renewal.reason)} · ${device.renewal.status} · ${formatTime(device.renewal.statusAt ?? device.renewal.requestedAt)}`
                : undefined,
            ],
            [
              'Previous certificate',
              device.previousCertificate
                ? h(
                    'span',
                    { class: 'mono' },
                    `${device.previousCertificate.serialNumber}${device.previousCertificate.revokedAt ? ` (revoked ${formatTime(device.previousCertificate.revokedAt)})` : ' (still valid)'}`,
                  )
                : undefined,
            ],
            [
              'Revoked',
              device.revocation
                ? `${humanize(device.revocation.reason)} · ${formatTime(device.revocation.revokedAt)}`
                : undefined,
            ],
          ]),
        ),
        h(
          'section',
          { class: 'card', 'aria-label': 'Telemetry' },
          h('h2', {}, 'Telemetry'),
          details([
            ['Messages', formatCount(device.telemetry.messagesTotal)],
            [
              'Last message',
              device.telemetry.lastMessageAt
                ? `${formatTime(device.telemetry.lastMessageAt)} (${relativeTime(device.telemetry.lastMessageAt, now)})`
                : 'none yet',
            ],
            [
              'Last topic',
              device.telemetry.lastTopic ? h('span', { class: 'mono' }, device.telemetry.lastTopic) : undefined,
            ],
          ]),
          h('h2', {}, 'Connections'),
          device.targets.length
            ? h(
                'table',
                { class: 'grid compact', 'aria-label': 'Connections' },
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ['Target', 'Access', 'Connection', 'Since', 'Messages'].map((t) => h('th', {}, t)),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  device.targets.map((/** @type {any} */ t) =>
                    h(
                      'tr',
                      { dataset: { targetId: t.targetId } },
                      h('td', {}, t.targetId),
                      h(
                        'td',
                        {},
                        humanize(t.status),
                        t.failure ? h('div', { class: 'warn small' }, t.failure.reason) : null,
                      ),
                      h(
                        'td',
                        {},
                        connectionBadge(t.connected ? 'connected' : t.connectedAt ? 'disconnected' : 'never'),
                        t.tlsProtocol ? h('div', { class: 'muted small' }, t.tlsProtocol) : null,
                        !t.connected && t.disconnectReason
                          ? h('div', { class: 'muted small' }, t.disconnectReason)
                          : null,
                      ),
                      h('td', {}, formatTime(t.connected ? t.connectedAt : (t.disconnectedAt ?? t.onboardedAt))),
                      h('td', { class: 'num' }, formatCount(t.telemetry?.messagesTotal ?? 0)),
                    ),
                  ),
                ),
              )
            : h('p', { class: 'muted' }, 'Not onboarded to any target yet.'),
        ),
      ),
      h(
        'section',
        { class: 'card', 'aria-label': 'Certificate' },
        h('h2', {}, 'Certificate'),
        cert
          ? [
              details([
                ['Subject', h('span', { class: 'mono wrap' }, cert.subject)],
                ['Issuer', h('span', { class: 'mono wrap' }, cert.issuer)],
                ['Serial number', h('span', { class: 'mono' }, cert.serialNumber)],
                ['Valid from', formatTime(cert.notBefore)],
                ['Valid until', `${formatTime(cert.notAfter)} (${relativeTime(cert.notAfter, now)})`],
                ['SHA-256 fingerprint', h('span', { class: 'mono wrap' }, cert.fingerprintSha256)],
                ['Issuing authority', cert.authorityId],
                ['Key', cert.keyId],
                ['Issued', formatTime(cert.issuedAt)],
              ]),
              h('h3', {}, 'Chain (issuing CA first, up to the root)'),
              h(
                'table',
                { class: 'grid compact', 'aria-label': 'Certificate chain' },
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ['Subject', 'Issuer', 'Serial', 'Valid until', 'SHA-256 fingerprint'].map((t) => h('th', {}, t)),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  cert.chain.map((/** @type {any} */ c) =>
                    h(
                      'tr',
                      {},
                      h('td', { class: 'wrap' }, c.subject),
                      h('td', { class: 'wrap' }, c.issuer),
                      h('td', { class: 'mono' }, c.serialNumber),
                      h('td', {}, formatTime(c.notAfter)),
                      h('td', { class: 'mono wrap small' }, c.fingerprintSha256),
                    ),
                  ),
                ),
              ),
              h('details', {}, h('summary', {}, 'Certificate (PEM)'), h('pre', { class: 'pem' }, cert.certificatePem)),
            ]
          : h(
              'p',
              { class: 'muted' },
              device.state === 'Revoked'
                ? 'Revoked before a certificate was issued.'
                : 'No certificate yet: verify and certify its batch.',
            ),
      ),
    ];
  };

  const revoke = async () => {
    const reason = await askRevocation({
      title: `Revoke ${deviceId}?`,
      text: 'The device’s certificate is revoked and published in the CRL, and every target cuts it off. This cannot be undone: the device needs a new identity to come back.',
      confirm: 'Revoke device',
    });
    if (!reason) return;
    note.clear();
    try {
      await post(`/api/devices/${encodeURIComponent(deviceId)}/revocation`, { reason });
      note.success(
        `Revocation of ${deviceId} started (${humanize(reason)}). Its state changes here when every step is done.`,
      );
    } catch (error) {
      note.error(error, 'revoke the device');
    }
  };

  load();
  return {
    element: h(
      'section',
      { class: 'page', 'data-title': deviceId },
      h('nav', { class: 'crumbs' }, h('a', { href: '#/devices' }, '← Devices')),
      note.element,
      body,
      h('section', { class: 'card' }, h('h2', {}, 'Timeline'), timeline),
    ),
    onLive(type, data) {
      const mine = (type === 'device' && data.deviceId === deviceId) || type === 'devices-changed' || type === 'hello';
      if (mine)
        refetch ??= setTimeout(() => {
          refetch = undefined;
          load();
        }, 300);
    },
    dispose() {
      clearTimeout(refetch);
    },
  };
}
