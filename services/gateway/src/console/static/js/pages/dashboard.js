// The fleet dashboard: devices by state, connected devices, the telemetry rate, certifications and
// revocations over time, drawn by uPlot (served by the gateway from its node_modules) from the
// gateway's `fleet` samples as they arrive on the live stream.
import uPlot from '../../vendor/uPlot.esm.js';
import { h, replaceChildren } from '../dom.js';
import { dashboardSeries, dashboardTiles } from '../dashboard-logic.js';
import { fleetHistory } from '../fleet-history.js';
import { deviceStates, formatCount } from '../logic.js';

const chartHeight = 220;

/** A colour of the console's palette (console.css), so the charts match the badges. @param {string} name */
const colour = (name) => window.getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#2457d6';

/**
 * @param {string} title
 * @param {string} unit the y axis's label
 * @param {{ label: string, colour: string }[]} series
 */
function chart(title, unit, series) {
  const area = h('div', { class: 'chart-area' });
  const figure = h(
    'figure',
    { class: 'card chart', 'aria-label': title, 'data-points': '0' },
    h('h2', {}, title),
    area,
  );
  /** @type {any} */
  let plot;
  return {
    figure,
    /** @param {any[]} data uPlot's: x, then one array per series */
    draw(data) {
      figure.dataset.points = String(data[0].length);
      if (!plot && !area.isConnected) return;
      plot ??= new uPlot(
        {
          width: Math.max(area.clientWidth, 280),
          height: chartHeight,
          scales: { x: { time: true } },
          axes: [{}, { label: unit, size: 60 }],
          series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 2, spanGaps: false }))],
        },
        data,
        area,
      );
      plot.setData(data);
      // The legend shows the latest values until the pointer picks another instant.
      if (data[0].length) plot.setLegend({ idx: data[0].length - 1 });
    },
    resize() {
      plot?.setSize({ width: Math.max(area.clientWidth, 280), height: chartHeight });
    },
    destroy() {
      plot?.destroy();
    },
  };
}

/** The dashboard reads the samples the session keeps (fleet-history.js), not the page context. */
export function dashboardPage() {
  const tile = (/** @type {string} */ label, /** @type {string} */ name) => {
    const value = h('strong', { 'data-field': name }, '—');
    return { value, element: h('div', { class: 'tile card' }, h('span', { class: 'muted small' }, label), value) };
  };
  const tiles = {
    devices: tile('Devices', 'devices'),
    connected: tile('Connected', 'connected'),
    telemetryRate: tile('Telemetry, messages/s', 'telemetry-rate'),
    certified: tile('Certified, ever', 'certified'),
    revoked: tile('Revoked', 'revoked'),
  };
  const charts = {
    states: chart(
      'Devices by state',
      'devices',
      deviceStates.map((state) => ({ label: state, colour: colour(`--s-${state.toLowerCase()}`) })),
    ),
    connected: chart('Connected devices', 'devices', [{ label: 'Connected', colour: colour('--ok') }]),
    telemetry: chart('Telemetry rate', 'messages/s', [{ label: 'Messages/s', colour: colour('--accent') }]),
    lifecycle: chart('Certifications and revocations', 'devices', [
      { label: 'Certified', colour: colour('--s-certified') },
      { label: 'Revoked', colour: colour('--s-revoked') },
    ]),
  };
  const waiting = h('p', { class: 'muted', 'data-field': 'waiting' }, 'Waiting for the first sample from the gateway…');

  const draw = (/** @type {import('../dashboard-logic.js').FleetSample[]} */ samples) => {
    if (!samples.length) return;
    waiting.hidden = true;
    const numbers = dashboardTiles(samples);
    replaceChildren(tiles.devices.value, formatCount(numbers.devices));
    replaceChildren(tiles.connected.value, formatCount(numbers.connected));
    replaceChildren(
      tiles.telemetryRate.value,
      numbers.telemetryRate === null ? '—' : numbers.telemetryRate.toLocaleString('en-US'),
    );
    replaceChildren(tiles.certified.value, formatCount(numbers.certified));
    replaceChildren(tiles.revoked.value, formatCount(numbers.revoked));
    const series = dashboardSeries(samples);
    for (const [name, c] of Object.entries(charts)) c.draw(series[/** @type {keyof typeof series} */ (name)]);
  };

  const element = h(
    'section',
    { class: 'page', 'data-title': 'Dashboard' },
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Fleet'),
      h('p', { class: 'muted' }, 'Live from the gateway: one sample a second while the fleet changes.'),
    ),
    waiting,
    h(
      'div',
      { class: 'tiles' },
      Object.values(tiles).map((t) => t.element),
    ),
    h(
      'div',
      { class: 'charts' },
      Object.values(charts).map((c) => c.figure),
    ),
  );

  const unsubscribe = fleetHistory.subscribe(draw);
  const resize = () => Object.values(charts).forEach((c) => c.resize());
  window.addEventListener('resize', resize);
  // Drawn once the page is in the document (uPlot measures its area).
  queueMicrotask(() => draw(fleetHistory.samples));
  return {
    element,
    dispose() {
      unsubscribe();
      window.removeEventListener('resize', resize);
      Object.values(charts).forEach((c) => c.destroy());
    },
  };
}
