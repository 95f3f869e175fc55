import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyticBitErrorRate } from '../analysis/bit-error-model.js';
import { analyticKeyFailureRate } from '../analysis/code-failure-model.js';
import { monteCarloKeyFailureRate } from '../analysis/key-failure-monte-carlo.js';
import { htmlReportFileName, renderHtmlReport, writeHtmlReport, type HtmlReport } from './html-report.js';
import { charts, temperatureGrid, type ReportChart } from './report-figures.js';
import { profile, sramFigures, worst } from './report-fixture.test-helper.js';

// The HTML report from a small real run of the report's computations (report-fixture.test-helper):
// the file is written, self-contained, and holds every data series.

describe('PUF report figures', () => {
  const figures = sramFigures();

  it('draws the model over the industrial range for each age, and the fleet where it was read', () => {
    expect(temperatureGrid(25)).toEqual([-40, -15, 10, 35, 60, 85, 110, 125]);
    const [young, old] = figures.bitError.analytic;
    expect(young!.temperatures).toEqual([-40, 0, 25, 75, 125]);
    expect(young!.bitErrorRates[0]).toBeCloseTo(
      analyticBitErrorRate(profile, { ...worst, temperatureC: -40, ageYears: 0 }),
    );
    // Worse at the corners than at 25 C, and worse with age.
    const at25 = young!.temperatures.indexOf(25);
    expect(young!.bitErrorRates.at(-1)!).toBeGreaterThan(young!.bitErrorRates[at25]!);
    expect(old!.bitErrorRates.at(-1)!).toBeGreaterThan(young!.bitErrorRates.at(-1)!);
    expect(figures.bitError.measured.map((m) => m.temperatures)).toEqual([
      [-40, 25, 125],
      [-40, 25, 125],
    ]);
  });

  it('draws the analytic key failure line across the Monte Carlo points', () => {
    const { analytic, monteCarlo } = figures.keyFailure;
    expect(analytic.bitErrorRates[0]).toBeLessThan(0.1);
    expect(analytic.bitErrorRates.at(-1)).toBeGreaterThan(0.25);
    expect(analytic.keyFailureRates[10]).toBe(
      analyticKeyFailureRate(profile.code, analytic.bitErrorRates[10]!).keyFailureRate,
    );
    expect(monteCarlo.map((m) => [m.bitErrorRate, m.trials])).toEqual([
      [0.1, 300],
      [0.22, 300],
      [0.25, 300],
    ]);
  });

  it('histograms each distance set into shares that add up to one', () => {
    const { bins, series, binWidth } = figures.distances;
    expect(bins[1]! - bins[0]!).toBeCloseTo(binWidth);
    for (const s of series) expect(s.shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    expect(series.map((s) => s.count)).toEqual([8, 8, 28]);
    // Intra-device distances sit far below the inter-device ones (about 50 %).
    expect(series[0]!.mean).toBeLessThan(0.1);
    expect(series[2]!.mean).toBeGreaterThan(0.45);
  });

  it('aligns every series of a chart on its x values, the Monte Carlo points apart from the line', () => {
    const [bitError, keyFailure, distances] = charts(figures);
    for (const chart of [bitError!, keyFailure!, distances!])
      for (const s of chart.series) expect(s.values).toHaveLength(chart.x.length);
    expect(keyFailure!.logY).toBe(true);
    expect(keyFailure!.series.map((s) => [s.label, s.kind])).toEqual([
      ['analytic', 'line'],
      ['Monte Carlo', 'points'],
      ['Monte Carlo, no failure: 95 % upper bound', 'points'],
    ]);
    // No failure at 10 % in 300 trials: drawn at its 95 % upper bound (3/N), not at zero.
    const at10 = keyFailure!.x.indexOf(0.1);
    expect(keyFailure!.series[2]!.values[at10]).toBeCloseTo(
      monteCarloKeyFailureRate(profile.code, 0.1, 300, 7).upperBound95,
    );
    expect(bitError!.series.filter((s) => s.kind === 'points')).toHaveLength(2);
  });
});

describe('the HTML report file', () => {
  let directory: string;
  const report = (): HtmlReport => ({
    title: 'tunnelkey PUF report',
    parameters: '8 devices, seed 7',
    generatedAt: '2030-01-01T00:00:00.000Z',
    charts: charts(sramFigures()),
    checks: [
      { name: 'sram residual entropy >= 256 bits', pass: true, detail: '262.0' },
      { name: 'a check named <script>', pass: false, detail: '</script>' },
    ],
  });

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'puf-html-'));
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  it('is written to the directory, made when missing, and holds every chart and data series', async () => {
    const written = report();
    const path = await writeHtmlReport(join(directory, 'out'), written);
    expect(path).toBe(join(directory, 'out', htmlReportFileName));
    const html = await readFile(path, 'utf8');
    const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)?.[1];
    const data = JSON.parse(json!) as { charts: ReportChart[]; checks: HtmlReport['checks'] };
    expect(data.charts).toEqual(written.charts);
    expect(data.charts.map((c) => c.id)).toEqual(['sram-bit-error', 'sram-key-failure', 'sram-distances']);
    for (const chart of written.charts) expect(html).toContain(`<figure data-chart="${chart.id}">`);
    expect(data.checks).toEqual(written.checks);
  });

  it('is self-contained: uPlot inlined, nothing loaded from elsewhere, no value able to close a script', async () => {
    const html = renderHtmlReport(report());
    expect(html).toContain('uPlot');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|url\(/);
    // The check named <script> is text, and its '</script>' detail cannot end the data block.
    expect(html).toContain('a check named &lt;script&gt;');
    expect(html.match(/<\/script>/g)).toHaveLength(3);
  });
});
