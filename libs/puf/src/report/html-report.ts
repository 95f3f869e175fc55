/**
 * The PUF report as one self-contained HTML file: its charts drawn by uPlot, whose code and styles
 * are inlined (the file opens offline, from anywhere), with the data series in a JSON block a
 * script or a reviewer can read back.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ReportChart } from './report-figures.js';

export interface HtmlReport {
  title: string;
  /** One line of what was run (devices, seed, trials). */
  parameters: string;
  generatedAt: string;
  charts: ReportChart[];
  checks: { name: string; pass: boolean; detail: string }[];
}

export const htmlReportFileName = 'puf-report.html';

const requireFromHere = createRequire(import.meta.url);

/** uPlot's browser build and styles, from its npm package. */
export function chartLibrary(): { script: string; styles: string } {
  return {
    script: readFileSync(requireFromHere.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    styles: readFileSync(requireFromHere.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON inside a <script> element: `<` escaped so no value can close the element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/** Draws each chart of the JSON block with uPlot: lines, points (log axes where asked) and histogram steps. */
const renderScript = `
(() => {
  const charts = JSON.parse(document.getElementById('report-data').textContent).charts;
  const palette = ['#2457d6', '#c62f2f', '#1f8a4c', '#b46a00', '#8a5bd6', '#0b8a8a', '#657084'];
  const percent = (v) => v == null ? '' : (v * 100).toFixed(v < 0.01 ? 3 : 1) + ' %';
  const plain = (v) => v == null ? '' : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(1) : String(+v.toPrecision(4));
  for (const chart of charts) {
    const holder = document.querySelector('[data-chart="' + chart.id + '"] .plot');
    const steps = uPlot.paths.stepped({ align: 1 });
    const opts = {
      width: Math.min(holder.clientWidth || 900, 900),
      height: 320,
      scales: { x: { time: false }, y: chart.logY ? { distr: 3 } : {} },
      axes: [
        { label: chart.xLabel, values: (u, vs) => vs.map(chart.xPercent ? percent : plain) },
        { label: chart.yLabel, size: 70, values: (u, vs) => vs.map(chart.yPercent ? percent : plain) },
      ],
      series: [
        { label: chart.xLabel, value: (u, v) => chart.xPercent ? percent(v) : plain(v) },
        ...chart.series.map((s, i) => {
          const colour = palette[(s.colour ?? i) % palette.length];
          const value = (u, v) => chart.yPercent ? percent(v) : plain(v);
          if (s.kind === 'points')
            return { label: s.label, stroke: colour, fill: colour, paths: () => null, points: { show: true, size: 9 }, value };
          if (s.kind === 'steps')
            return { label: s.label, stroke: colour, fill: colour + '33', width: 1.5, paths: steps, points: { show: false }, value };
          return { label: s.label, stroke: colour, width: 2, spanGaps: true, points: { show: false }, value };
        }),
      ],
    };
    new uPlot(opts, [chart.x, ...chart.series.map((s) => s.values)], holder);
    holder.parentElement.dataset.drawn = 'true';
  }
})();
`;

/** The report's HTML, with uPlot (`library`) inlined. */
export function renderHtmlReport(report: HtmlReport, library = chartLibrary()): string {
  const figures = report.charts
    .map(
      (chart) =>
        `<figure data-chart="${escapeHtml(chart.id)}"><figcaption>${escapeHtml(chart.title)}</figcaption><div class="plot"></div></figure>`,
    )
    .join('\n');
  const checks = report.checks
    .map(
      (c) =>
        `<tr class="${c.pass ? 'pass' : 'fail'}"><td>${c.pass ? 'PASS' : 'FAIL'}</td><td>${escapeHtml(c.name)}</td><td>${escapeHtml(c.detail)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(report.title)}</title>
<style>${library.styles}</style>
<style>
body { font: 14px/1.45 system-ui, sans-serif; color: #1d2330; margin: 24px auto; max-width: 960px; padding: 0 16px; }
figure { margin: 24px 0; } figcaption { font-weight: 600; margin-bottom: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; } td { padding: 3px 6px; border-bottom: 1px solid #eef0f4; }
tr.fail td:first-child { color: #c62f2f; font-weight: 600; } tr.pass td:first-child { color: #1f8a4c; }
.muted { color: #657084; }
</style>
</head>
<body>
<h1>${escapeHtml(report.title)}</h1>
<p class="muted">${escapeHtml(report.parameters)} · generated ${escapeHtml(report.generatedAt)}</p>
${figures}
<h2>Checks</h2>
<table><tbody>
${checks}
</tbody></table>
<script type="application/json" id="report-data">${scriptJson({ charts: report.charts, checks: report.checks })}</script>
<script>${library.script}</script>
<script>${renderScript}</script>
</body>
</html>
`;
}

/** Writes the report to `<directory>/puf-report.html` (the directory is made when missing); returns its path. */
export async function writeHtmlReport(directory: string, report: HtmlReport): Promise<string> {
  await mkdir(directory, { recursive: true });
  const path = join(directory, htmlReportFileName);
  await writeFile(path, renderHtmlReport(report));
  return path;
}
