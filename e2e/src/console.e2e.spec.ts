/**
 * Issue 7's console, end to end in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core) over the whole platform on the real NATS (NATS_URL, isolated by a namespace):
 * registry, CA, onboarding with a real Mosquitto, revocation and the gateway in one process, and
 * 20 simulated PUF devices. An operator uses only the browser: sign in with a pasted token,
 * register the broker, create a policy and a batch, import the fleet's CSV file, verify, certify,
 * onboard, watch the devices connect, read a device's certificate from the page (checked against
 * the certificate the device holds), and revoke it; then the fleet dashboard's charts (uPlot, fed by
 * the live `fleet` samples), the device list sorted and exported as CSV, renew and revoke of selected
 * devices with the revocation's live progress, and a whole batch revoked after typing its id. Every
 * page is saved as a screenshot under test-artifacts/console/. Waiting is Playwright's (locators,
 * bounded), never a sleep.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { startGateway, type RunningGateway } from '@tunnelkey/gateway';
import { startRevocation, type RunningRevocation } from '@tunnelkey/revocation';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { adminPasswordFile, ownerId, startPlatform, targetId, type Platform } from './support/platform.js';

const nats = natsFixture({ prefix: 'console' });
const fleetSize = 20;
const logger = pino({ level: 'warn' });
const adminToken = randomBytes(32).toString('base64url');
const artifacts = join(process.cwd(), 'test-artifacts', 'console');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
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
/** Bounds for Playwright's waiting: UI reactions are quick, fleet-wide steps take longer. */
const ui = { timeout: 15_000 };
const fleetStep = { timeout: 120_000 };

describe('console: an operator runs 20 PUF devices from headless Chromium, policy to revocation', () => {
  let platform: Platform;
  let revocation: RunningRevocation;
  let gateway: RunningGateway;
  let fleet: Fleet;
  let browser: BrowserContext;
  let page: Page;
  let workDir: string;
  let viewerToken: string;
  const pageErrors: string[] = [];
  const suffix = randomUUID().slice(0, 6);
  const policyName = `Fridges to the plant broker ${suffix}`;
  const batchName = `Fridges line 3 ${suffix}`;
  const targetName = `Plant broker ${suffix}`;
  let batchId: string;
  let policyId: string;

  const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const batchRow = () => page.locator(`tr[data-batch-id="${batchId}"]`);
  const count = (state: string, n: number) =>
    batchRow()
      .locator(`.count[data-state="${state}"]`)
      .filter({ hasText: new RegExp(`^${state} ${n}$`) });
  const fieldOf = (section: string, label: string): Locator =>
    page.getByRole('region', { name: section }).locator(`dd[data-field="${label}"]`);
  const revocationProgress = (text: string) =>
    page
      .getByRole('region', { name: 'Revocation progress' })
      .locator('[data-field="revocation-progress"]', { hasText: text });
  /**
   * Pixels of a chart's canvas in a colour of the console's palette (a CSS variable): a series drawn
   * in that colour, not only the axes. Evaluated in the page (a string: the e2e project has no DOM types).
   */
  const pixelsOf = (chart: string, cssVariable: string) =>
    page.evaluate(`(() => {
      const hex = getComputedStyle(document.documentElement).getPropertyValue(${JSON.stringify(cssVariable)}).trim();
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      const canvas = document.querySelector(${JSON.stringify(`figure[aria-label="${chart}"] canvas`)});
      if (!canvas) return 0;
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4)
        if (Math.abs(data[i] - r) < 24 && Math.abs(data[i + 1] - g) < 24 && Math.abs(data[i + 2] - b) < 24 && data[i + 3] > 200) n++;
      return n;
    })()`) as Promise<number>;
  const chartPoints = (chart: string, atLeast: number) =>
    page.waitForFunction(
      `Number(document.querySelector(${JSON.stringify(`figure[aria-label="${chart}"]`)})?.dataset.points ?? 0) >= ${atLeast}`,
      undefined,
      fleetStep,
    );

  beforeAll(async () => {
    await nats.setup();
    await mkdir(artifacts, { recursive: true });
    workDir = await mkdtemp(join(tmpdir(), 'tk-console-e2e-'));
    const namespace = nats.namespace;
    platform = await startPlatform({ nats: nats.nc, namespace, logger, telemetryIntervalMs: 1_000 });
    revocation = await startRevocation({ nats: nats.nc, namespace, logger, config: { httpPort: 0, retryMs: 200 } });
    gateway = await startGateway({ nats: nats.nc, namespace, httpPort: 0, adminToken, logger, nestLogger: ['error'] });
    fleet = await createFleet({
      nats: nats.nc,
      namespace,
      size: fleetSize,
      seedBase: `console-${suffix}`,
      platformPublicKey: platform.platformPublicKeySpki,
    });
    // Devices connect to the broker as soon as onboarding hands them their connection parameters.
    fleet.connect({ telemetryIntervalMs: 1_000, concurrency: 20 });
    // A viewer of the fleet's owner: another owner's (the default one's) would see none of it.
    const viewer = await fetch(`${gateway.url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'victor', role: 'viewer', ownerId }),
    });
    viewerToken = ((await viewer.json()) as { token: string }).token;

    browser = await chromium.launchPersistentContext(join(workDir, 'profile'), {
      executablePath: chromiumPath,
      headless: true,
      args: chromiumArgs,
      viewport: { width: 1440, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
    // Failed loads are reported by URL below (a refused sign-in is a 401 the page explains).
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        pageErrors.push(`console: ${message.text()}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400 && !(response.status() === 401 && response.url().endsWith('/api/whoami')))
        pageErrors.push(`${response.status()} ${response.url()}`);
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.stop();
    await gateway?.stop();
    await revocation?.stop();
    await platform?.stop();
    await nats.teardown();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 60_000);

  afterEach(() => {
    // No script error and no CSP violation on any page.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  it('is served by the gateway with a strict content security policy', async () => {
    const response = await fetch(`${gateway.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${gateway.url}/console/js/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${gateway.url}/console/nope.js`)).status).toBe(404);
  });

  it('refuses a wrong token with a clear message and signs in with a pasted one', async () => {
    await page.goto(gateway.url);
    await page.getByLabel('API token').fill('tk_0123456789abcdef_notatoken');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Could not sign in' }).waitFor(ui);
    await shot('login');
    await page.getByLabel('API token').fill(adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Batches' }).waitFor(ui);
    await page.locator('#live-status', { hasText: 'live' }).waitFor(ui);
    // Kept for the tab only (sessionStorage), never in a cookie or localStorage.
    expect(await page.evaluate("sessionStorage.getItem('tunnelkey.token')")).toBe(adminToken);
  });

  it('creates a policy from a form, naming the broker it will be registered as', async () => {
    await page.getByRole('link', { name: 'Targets & policies' }).click();
    const policy = page.getByRole('form', { name: 'New policy' });
    await page.locator('summary', { hasText: 'New policy' }).click();
    await policy.getByLabel('Name', { exact: true }).fill(policyName);
    // The platform admin defines it for the owner whose batches use it (the form offers its own owner).
    expect(await policy.getByLabel('Owner').inputValue()).toBe('default');
    await policy.getByLabel('Owner').fill(ownerId);
    policyId = await policy.getByLabel('Policy id').inputValue();
    await policy.getByLabel('Targets registered later (ids)').fill(targetId);
    await policy.getByLabel('Topic', { exact: true }).first().fill('fridges/{deviceId}/telemetry');
    await policy.getByRole('button', { name: 'Add topic right' }).click();
    await policy.getByLabel('Topic', { exact: true }).nth(1).fill('fridges/{deviceId}/commands/#');
    await policy.getByLabel('Access', { exact: true }).nth(1).selectOption('subscribe');
    await policy.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('status').filter({ hasText: 'created' }).waitFor(ui);
    await page.locator(`tr[data-policy-id="${policyId}"]`).filter({ hasText: targetId }).waitFor(ui);
  });

  it('creates a batch with the policy from a drop-down, imports the identity file, verifies and certifies', async () => {
    await page.getByRole('link', { name: 'Batches' }).click();
    const form = page.getByRole('form', { name: 'New batch' });
    await form.getByLabel('Name', { exact: true }).fill(batchName);
    await form.getByLabel('Server policy').selectOption(policyId);
    await form.getByLabel('Expected devices').fill(String(fleetSize));
    // The owner whose issuing CA the ceremony signed (support/platform.ts): the CA creates none itself.
    await form.getByLabel('Owner').fill(ownerId);
    batchId = await form.getByLabel('Batch id').inputValue();
    await form.getByRole('button', { name: 'Create batch' }).click();
    await batchRow().waitFor(ui);

    const file = join(workDir, 'fridges.csv');
    await writeFile(file, fleet.identityFile('csv'));
    await batchRow().getByLabel(`Identity file for ${batchName}`).setInputFiles(file);
    await page
      .getByRole('status')
      .filter({ hasText: `${fleetSize} accepted, 0 rejected` })
      .waitFor(ui);
    await count('Imported', fleetSize).waitFor(ui);

    await batchRow().getByRole('button', { name: 'Verify' }).click();
    await count('Verified', fleetSize).waitFor(fleetStep);
    await batchRow().getByRole('button', { name: 'Certify' }).click();
    await count('Certified', fleetSize).waitFor(fleetStep);
    await shot('batches-certified');
  }, 300_000);

  it('registers the broker as a target from a form', async () => {
    // The broker trusts no one until onboarding installs the target's own CA (support/platform.ts).
    const broker = await platform.startBroker();
    await page.getByRole('link', { name: 'Targets & policies' }).click();
    const target = page.getByRole('form', { name: 'Register a target' });
    await page.locator('summary', { hasText: 'Register a target' }).click();
    await target.getByLabel('Kind').selectOption('mosquitto');
    await target.getByLabel('Name', { exact: true }).fill(targetName);
    await target.getByLabel('Owner').fill(ownerId);
    await target.getByLabel('Target id').fill(targetId);
    await target.getByLabel('Host', { exact: true }).fill('127.0.0.1');
    await target.getByLabel('TLS port').fill(String(broker.tlsPort));
    await target.getByLabel('Admin user').fill(broker.admin.username);
    // The password stays a secret file of the onboarding service (as the platform mounts it, see
    // support/platform.ts); the form names the file and no field of the page takes a password.
    expect(await target.locator('input[type="password"]').count()).toBe(0);
    await target.getByLabel('Admin password file').fill(adminPasswordFile);
    await target.getByLabel('Admin port').fill(String(broker.adminPort));
    await target.getByRole('button', { name: 'Register target' }).click();
    await page.getByRole('status').filter({ hasText: 'registered' }).waitFor(ui);
    await page.locator(`tr[data-target-id="${targetId}"]`).filter({ hasText: targetName }).waitFor(ui);
    await page.locator(`tr[data-policy-id="${policyId}"]`).filter({ hasText: targetName }).waitFor(ui);
    await shot('targets-and-policies');
  }, 120_000);

  it('onboards the batch and the devices connect to the broker over mutual TLS', async () => {
    await page.getByRole('link', { name: 'Batches' }).click();
    await batchRow().getByRole('button', { name: 'Onboard' }).click();
    await count('Onboarded', fleetSize).waitFor(fleetStep);
    await batchRow()
      .locator('[data-field="connected"]', { hasText: String(fleetSize) })
      .waitFor(fleetStep);
    await shot('batches');

    await batchRow().getByRole('link', { name: batchName }).click();
    await page.getByRole('heading', { name: 'Devices' }).waitFor(ui);
    await page.getByLabel('Connection').selectOption('connected');
    await page.locator('[data-field="total"]', { hasText: `1–${fleetSize} of ${fleetSize}` }).waitFor(fleetStep);
    await page
      .locator('tr[data-device-id][data-connection="connected"]')
      .nth(fleetSize - 1)
      .waitFor(ui);
    await shot('devices');
    // Paged by the server: 5 rows of 20, then the next 5.
    await page.goto(`${gateway.url}/#/devices?batchId=${batchId}&limit=5`);
    await page.locator('[data-field="total"]', { hasText: `1–5 of ${fleetSize}` }).waitFor(ui);
    expect(await page.locator('tr[data-device-id]').count()).toBe(5);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('[data-field="total"]', { hasText: `6–10 of ${fleetSize}` }).waitFor(ui);
    expect(await page.locator('tr[data-device-id]').count()).toBe(5);
  }, 300_000);

  it('draws the fleet dashboard from the live samples: devices by state, connected, telemetry rate, certifications', async () => {
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor(ui);
    const tile = (name: string) => page.locator(`.tiles [data-field="${name}"]`);
    await tile('connected')
      .filter({ hasText: new RegExp(`^${fleetSize}$`) })
      .waitFor(fleetStep);
    await tile('certified')
      .filter({ hasText: new RegExp(`^${fleetSize}$`) })
      .waitFor(ui);
    // Telemetry flows (every device reports each second): a rate above zero between two samples.
    await page.waitForFunction(
      `Number(document.querySelector('.tiles [data-field="telemetry-rate"]')?.textContent?.replace(/,/g, '')) > 0`,
      undefined,
      fleetStep,
    );
    for (const chart of ['Devices by state', 'Connected devices', 'Telemetry rate', 'Certifications and revocations'])
      await chartPoints(chart, 2);
    // Drawn by uPlot on its canvas, each in its series' colour.
    expect(await pixelsOf('Devices by state', '--s-onboarded')).toBeGreaterThan(20);
    expect(await pixelsOf('Connected devices', '--ok')).toBeGreaterThan(20);
    expect(await pixelsOf('Telemetry rate', '--accent')).toBeGreaterThan(20);
    expect(await pixelsOf('Certifications and revocations', '--s-certified')).toBeGreaterThan(20);
    // The chart library is served by the gateway itself (from its node_modules), under the same CSP.
    expect((await fetch(`${gateway.url}/console/vendor/uPlot.esm.js`)).headers.get('content-type')).toMatch(
      /javascript/,
    );
    await shot('dashboard');
  }, 180_000);

  it("shows a device's certificate as the device holds it, its connection and telemetry, and its timeline", async () => {
    const device = [...fleet.devices()][3]!;
    const leaf = new X509Certificate(device.flash.certificates['tls-0']!.certificatePem);
    await page.goto(`${gateway.url}/#/devices?batchId=${batchId}&q=${device.deviceId}`);
    await page.getByRole('link', { name: device.deviceId }).click();
    await page.getByRole('heading', { name: device.deviceId }).waitFor(ui);

    const serial = (await fieldOf('Certificate', 'Serial number').textContent())!.trim();
    const fingerprint = (await fieldOf('Certificate', 'SHA-256 fingerprint').textContent())!.trim();
    expect(serial).toBe(leaf.serialNumber.toLowerCase());
    expect(fingerprint).toBe(leaf.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(await fieldOf('Certificate', 'Subject').textContent()).toContain(device.deviceId);
    expect(await fieldOf('Certificate', 'Issuer').textContent()).toBe(leaf.issuer.replace(/\n/g, ', '));
    expect(
      await page.getByRole('table', { name: 'Certificate chain' }).locator('tbody tr').count(),
    ).toBeGreaterThanOrEqual(2);
    await page
      .getByRole('table', { name: 'Connections' })
      .locator(`tr[data-target-id="${targetId}"]`, { hasText: 'Connected' })
      .waitFor(fleetStep);
    // Telemetry arrives and is counted (live: the page refetches on the device's updates).
    await fieldOf('Telemetry', 'Messages').filter({ hasNotText: /^0$/ }).waitFor(fleetStep);
    await page
      .getByRole('list', { name: 'Timeline' })
      .locator('li[data-type="DeviceConnected"]')
      .first()
      .waitFor(fleetStep);
    for (const type of ['DeviceIdentityImported', 'IdentityVerified', 'DeviceCertified', 'DeviceOnboarded'])
      await page.getByRole('list', { name: 'Timeline' }).locator(`li[data-type="${type}"]`).first().waitFor(fleetStep);
    await shot('device');
  }, 180_000);

  it('revokes the device after a confirmation with a reason, and shows it revoked and cut off', async () => {
    const device = [...fleet.devices()][3]!;
    // Cancel first: nothing happens.
    await page.getByRole('button', { name: 'Revoke…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('dialog').waitFor({ state: 'hidden', ...ui });
    expect(await page.locator('.page-head .badge').first().textContent()).not.toBe('Revoked');

    await page.getByRole('button', { name: 'Revoke…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').selectOption('keyCompromise');
    await shot('revoke-dialog');
    await dialog.getByRole('button', { name: 'Revoke device' }).click();
    await page.getByRole('status').filter({ hasText: 'Revocation of' }).waitFor(ui);
    await page.locator('.page-head .badge', { hasText: 'Revoked' }).waitFor(fleetStep);
    await fieldOf('Identity', 'Revoked').filter({ hasText: 'Key compromise' }).waitFor(ui);
    await page
      .getByRole('table', { name: 'Connections' })
      .locator(`tr[data-target-id="${targetId}"]`, { hasText: 'Deprovisioned' })
      .waitFor(fleetStep);
    await page.locator('.page-head .badge', { hasText: 'Disconnected' }).waitFor(fleetStep);
    // The timeline is read from the log, slower than the read model: a longer bound.
    await page.getByRole('list', { name: 'Timeline' }).locator('li[data-type="DeviceRevoked"]').waitFor(fleetStep);
    await shot('device-revoked');

    // The batch page counts it as revoked; the others stay onboarded.
    await page.getByRole('link', { name: 'Batches' }).click();
    await count('Revoked', 1).waitFor(fleetStep);
    await count('Onboarded', fleetSize - 1).waitFor(ui);
    expect([...fleet.devices()].find((d) => d.deviceId === device.deviceId)).toBeDefined();
  }, 180_000);

  it('sorts the device list by a column, selects a page, and exports the filtered list as CSV', async () => {
    const revokedId = [...fleet.devices()][3]!.deviceId;
    await page.goto(`${gateway.url}/#/devices?batchId=${batchId}`);
    await page.locator('[data-field="total"]', { hasText: `1–${fleetSize} of ${fleetSize}` }).waitFor(ui);
    const header = (name: string) => page.getByRole('columnheader', { name: new RegExp(`^${name}`) });
    await header('State').getByRole('button').click();
    await page.locator('th[aria-sort="ascending"]', { hasText: 'State' }).waitFor(ui);
    await header('State').getByRole('button').click();
    await page.locator('th[aria-sort="descending"]', { hasText: 'State' }).waitFor(ui);
    expect(page.url()).toContain('sort=state');
    // Revoked is the furthest state: first when descending.
    expect(await page.locator('tr[data-device-id]').first().getAttribute('data-device-id')).toBe(revokedId);
    // The gateway sorts the fleet: ascending by device id, every row in order.
    await header('Device').getByRole('button').click();
    await page.locator('th[aria-sort="ascending"]', { hasText: 'Device' }).waitFor(ui);
    expect(page.url()).toContain('sort=device');
    const sortedIds = [...fleet.devices()].map((d) => d.deviceId).sort();
    await page.locator(`tbody tr:first-child[data-device-id="${sortedIds[0]}"]`).waitFor(ui);
    const ids = await page
      .locator('tr[data-device-id]')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-device-id')!));
    expect(ids).toEqual(sortedIds);
    // Messages are summed over a device's targets: no sort field on the gateway, no sort button.
    await expect(header('Messages').getByRole('button').count()).resolves.toBe(0);

    await page.getByLabel('Select every device on this page').check();
    await page.locator('[data-field="selected"]', { hasText: `${fleetSize} selected` }).waitFor(ui);
    await page.getByLabel('Select every device on this page').uncheck();
    await page.locator('[data-field="selected"]', { hasText: 'None selected' }).waitFor(ui);

    const [download] = await Promise.all([
      page.waitForEvent('download', ui),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^devices-${batchId}-.*\\.csv$`));
    const file = join(workDir, 'export.csv');
    await download.saveAs(file);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^deviceId,batchId,state,/);
    expect(lines).toHaveLength(fleetSize + 1);
    // Every device the filters match, in the sort shown.
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(sortedIds);
    expect(lines.find((l) => l.startsWith(`${revokedId},`))).toContain(`,${batchId},Revoked,`);
    await page
      .getByRole('status')
      .filter({ hasText: `Exported ${fleetSize} devices as CSV.` })
      .waitFor(ui);
    await shot('devices-sorted');
  }, 120_000);

  it('renews the certificates of the selected devices', async () => {
    const ids = [...fleet.devices()].slice(8, 10).map((d) => d.deviceId);
    await page.goto(`${gateway.url}/#/devices?batchId=${batchId}`);
    for (const id of ids) await page.getByLabel(`Select ${id}`).check();
    await page.locator('[data-field="selected"]', { hasText: '2 selected' }).waitFor(ui);
    await page.getByRole('button', { name: 'Renew selected…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Renew' }).click();
    await page.getByRole('status').filter({ hasText: 'Renewal of 2 devices started' }).waitFor(ui);
    await page.locator('[data-field="selected"]', { hasText: 'None selected' }).waitFor(ui);
    // Rotate, then revoke: the device switched to its new certificate and the old one is revoked.
    await page.getByRole('link', { name: ids[0] }).click();
    await fieldOf('Identity', 'Last renewal').filter({ hasText: 'completed' }).waitFor(fleetStep);
    await fieldOf('Identity', 'Previous certificate').filter({ hasText: 'revoked' }).waitFor(ui);
  }, 180_000);

  it('revokes the selected devices after a confirmation and follows them live until they are cut off', async () => {
    const ids = [...fleet.devices()].slice(5, 7).map((d) => d.deviceId);
    await page.goto(`${gateway.url}/#/devices?batchId=${batchId}`);
    for (const id of ids) await page.getByLabel(`Select ${id}`).check();
    await page.getByRole('button', { name: 'Revoke selected…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').selectOption('keyCompromise');
    await dialog.getByRole('button', { name: 'Revoke 2 devices' }).click();
    await revocationProgress('of 2 revoked').or(revocationProgress('All 2 revoked')).waitFor(ui);
    await shot('devices-revoking');
    // Sorting makes a new page: the revocation is still followed there, until dismissed.
    await page
      .getByRole('columnheader', { name: /^Device/ })
      .getByRole('button')
      .click();
    await page.locator('th[aria-sort="ascending"]', { hasText: 'Device' }).waitFor(ui);
    await revocationProgress('All 2 revoked and cut off').waitFor(fleetStep);
    for (const id of ids) await page.locator(`tr[data-device-id="${id}"][data-state="Revoked"]`).waitFor(ui);
    await page.getByRole('region', { name: 'Revocation progress' }).getByRole('button', { name: 'Dismiss' }).click();
    await page.getByRole('region', { name: 'Revocation progress' }).waitFor({ state: 'detached', ...ui });
  }, 180_000);

  it('approves a device an open enrolment-key request held, from the batch page', async () => {
    // A device nobody attested, a batch without an identity file, an open request (set up through the API).
    const outsider = await createFleet({
      nats: nats.nc,
      namespace: nats.namespace,
      size: 1,
      seedBase: `console-held-${suffix}`,
      platformPublicKey: platform.platformPublicKeySpki,
    });
    try {
      const api = (path: string, body?: object) =>
        fetch(`${gateway.url}${path}`, {
          method: body ? 'POST' : 'GET',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          ...(body ? { body: JSON.stringify(body) } : {}),
        }).then((r) => r.json() as Promise<Record<string, unknown>>);
      const heldBatch = `held-${suffix}`;
      await api('/api/batches', { batchId: heldBatch, name: `Held ${suffix}`, policyId, ownerId, expectedSize: 1 });
      await outsider.announce();
      await api(`/api/batches/${heldBatch}/enrolment-key-requests`, { requestId: `open-${suffix}`, ttlSeconds: 300 });
      await waitFor(async () => (await api(`/api/batches/${heldBatch}/held-enrolments`)).total === 1, {
        description: 'the unattested device held',
        timeoutMs: 30_000,
      });
      const [device] = [...outsider.devices()];
      await page.goto(gateway.url);
      await page.getByRole('link', { name: 'Batches' }).click();
      await page.locator(`tr[data-batch-id="${heldBatch}"]`).getByRole('button', { name: 'Held…' }).click();
      const row = page
        .getByRole('region', { name: 'Held enrolments' })
        .locator(`tr[data-held-device-id="${device!.deviceId}"]`);
      await row.locator('[data-field="decision"]', { hasText: 'pending' }).waitFor(ui);
      await shot('held-enrolments');
      await row.getByRole('button', { name: 'Approve' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Device ${device!.deviceId} approved.` })
        .waitFor(ui);
      await row.locator('[data-field="decision"]', { hasText: 'approved' }).waitFor(ui);
      await page.locator(`tr[data-batch-id="${heldBatch}"] [data-field="devices"]`, { hasText: '1 / 1' }).waitFor(ui);
    } finally {
      await outsider.stop();
    }
  }, 120_000);

  it('a viewer sees everything and can change nothing', async () => {
    const viewer = await browser.newPage();
    viewer.on('pageerror', (error) => pageErrors.push(`pageerror (viewer): ${error.message}`));
    try {
      await viewer.goto(gateway.url);
      await viewer.getByLabel('API token').fill(viewerToken);
      await viewer.getByRole('button', { name: 'Sign in' }).click();
      const row = viewer.locator(`tr[data-batch-id="${batchId}"]`);
      await row.waitFor(ui);
      for (const name of ['Verify', 'Certify', 'Onboard'])
        expect(await row.getByRole('button', { name }).isDisabled()).toBe(true);
      expect(await viewer.getByRole('form', { name: 'New batch' }).count()).toBe(0);
      expect(await row.getByRole('button', { name: 'Revoke batch…' }).isDisabled()).toBe(true);
      await viewer.screenshot({ path: join(artifacts, 'batches-as-viewer.png'), fullPage: true });
      await viewer.getByRole('link', { name: 'Targets & policies' }).click();
      await viewer.locator('tr[data-policy-id]').filter({ hasText: policyName }).waitFor(ui);
      expect(await viewer.getByRole('form', { name: 'New policy' }).count()).toBe(0);
      const device = [...fleet.devices()][0]!;
      await viewer.goto(`${gateway.url}/#/devices?batchId=${batchId}`);
      await viewer.getByLabel(`Select ${device.deviceId}`).check();
      await viewer.locator('[data-field="selected"]', { hasText: '1 selected' }).waitFor(ui);
      for (const name of ['Revoke selected…', 'Renew selected…'])
        expect(await viewer.getByRole('button', { name }).isDisabled()).toBe(true);
      await viewer.goto(`${gateway.url}/#/devices/${device.deviceId}`);
      await viewer.getByRole('heading', { name: device.deviceId }).waitFor(ui);
      expect(await viewer.getByRole('button', { name: /Revoke/ }).isDisabled()).toBe(true);
    } finally {
      await viewer.close();
    }
  }, 120_000);

  it('revokes a whole batch once its id is typed, and follows it live until every device is cut off', async () => {
    await page.goto(gateway.url);
    await page.getByRole('link', { name: 'Batches' }).click();
    await batchRow().getByRole('button', { name: 'Revoke batch…' }).click();
    const dialog = page.getByRole('dialog');
    const confirm = dialog.getByRole('button', { name: 'Revoke batch' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel(`Type ${batchId} to confirm`).fill(`${batchId}x`);
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel(`Type ${batchId} to confirm`).fill(batchId);
    await dialog.getByLabel('Reason').selectOption('cessationOfOperation');
    await confirm.click();
    await page
      .getByRole('status')
      .filter({ hasText: `Revocation of “${batchName}” started` })
      .waitFor(ui);
    await shot('batch-revoking');
    await revocationProgress(`All ${fleetSize} revoked and cut off`).waitFor(fleetStep);
    await count('Revoked', fleetSize).waitFor(ui);
    expect(await batchRow().getByRole('button', { name: 'Revoke batch…' }).isDisabled()).toBe(true);
    // The dashboard counts them too.
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.locator('.tiles [data-field="revoked"]', { hasText: String(fleetSize) }).waitFor(fleetStep);
    expect(await pixelsOf('Certifications and revocations', '--s-revoked')).toBeGreaterThan(20);
    await shot('dashboard-revoked');
  }, 300_000);
});
