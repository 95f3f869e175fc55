/**
 * Headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH) driven by playwright-core for
 * the console's e2e specs: one page, and what went wrong on it (script errors, console errors,
 * failed requests) collected for the spec to assert empty after each test.
 */
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Where the console specs save their screenshots. */
export const consoleArtifacts = join(process.cwd(), 'test-artifacts', 'console');
const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
// Without the background-networking flags Chromium phones home, and a closed network refuses it.
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ConsoleBrowser {
  browser: BrowserContext;
  page: Page;
  /** Script errors, console errors and failed requests (by URL) so far; a spec empties and checks it. */
  problems: string[];
}

/**
 * @param profileDir a fresh directory for the browser profile
 * @param expected a failed response the spec provokes on purpose (e.g. a refused sign-in), not a problem
 */
export async function launchConsoleBrowser(
  profileDir: string,
  expected: (status: number, url: string) => boolean = () => false,
): Promise<ConsoleBrowser> {
  const browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    viewport: { width: 1440, height: 900 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  // Failed loads are reported by URL below.
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !expected(response.status(), response.url()))
      problems.push(`${response.status()} ${response.url()}`);
  });
  return { browser, page, problems };
}
