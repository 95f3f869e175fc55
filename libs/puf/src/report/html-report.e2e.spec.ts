/**
 * The HTML PUF report opened in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core) straight from the file, offline: every chart is drawn by the inlined uPlot, with
 * its series on the canvas, and no script error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { writeHtmlReport } from './html-report.js';
import { charts } from './report-figures.js';
import { sramFigures } from './report-fixture.test-helper.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('the HTML PUF report in Chromium', () => {
  let browser: Browser;
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'puf-html-e2e-'));
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('draws every chart from the file, with no request leaving it', async () => {
    const reportCharts = charts(sramFigures());
    const path = await writeHtmlReport(directory, {
      title: 'tunnelkey PUF report',
      parameters: '8 devices, seed 7',
      generatedAt: '2030-01-01T00:00:00.000Z',
      charts: reportCharts,
      checks: [],
    });
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(path).href, { timeout: 30_000 });
    await page
      .locator('figure[data-drawn="true"]')
      .nth(reportCharts.length - 1)
      .waitFor({ timeout: 30_000 });
    // Each chart's canvas holds more than its axes: pixels in the first series' colour (the palette's blue).
    const drawn = (await page.evaluate(`[...document.querySelectorAll('figure canvas')].map((canvas) => {
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4)
        if (Math.abs(data[i] - 0x24) < 24 && Math.abs(data[i + 1] - 0x57) < 24 && Math.abs(data[i + 2] - 0xd6) < 24) n++;
      return n;
    })`)) as number[];
    expect(drawn).toHaveLength(reportCharts.length);
    for (const pixels of drawn) expect(pixels).toBeGreaterThan(20);
    expect(errors).toEqual([]);
    expect(requests.filter((url) => !url.startsWith('file:'))).toEqual([]);
    await page.close();
  }, 120_000);
});
