/**
 * Issue 16's console pages, end to end in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core) on the real NATS (isolated by a namespace): the registry and the CA certify 10
 * simulated PUF devices (one with a boot that fails), the OTA service and the gateway run beside
 * them. An operator uses only the browser: uploads an image on the firmware page (hashed in the
 * page, streamed to the object store, signed by the OTA service) and sees it listed; starts a
 * rollout in two waves with a 0 % failure threshold; follows it live on the rollout page (server-
 * sent events) as it pauses itself on the failing device, resumes it with the button and sees it
 * complete with the failure's reason; then aborts a second rollout with the button. Screenshots
 * under test-artifacts/console/. Waiting is Playwright's (locators, bounded), never a sleep.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@tunnelkey/config';
import { RegisterFirmwareProduct } from '@tunnelkey/contracts';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { startGateway, type RunningGateway } from '@tunnelkey/gateway';
import { startOta, type RunningOta } from '@tunnelkey/ota';
import { Kek } from '@tunnelkey/pki';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import { consoleArtifacts as artifacts, launchConsoleBrowser } from '../support/console-browser.js';
import { operator, startPlatform, type Platform } from '../support/platform.js';

const nats = natsFixture({ prefix: 'otaconsole' });
const fleetSize = 10;
const logger = pino({ level: 'warn' });
const adminToken = randomBytes(32).toString('base64url');
const ui = { timeout: 15_000 };
const rolloutStep = { timeout: 120_000 };

describe('console: an operator uploads firmware and runs rollouts from headless Chromium', () => {
  let platform: Platform;
  let fleet: Fleet;
  let ota: RunningOta;
  let otaNc: NatsConnection;
  let gateway: RunningGateway;
  let browser: BrowserContext;
  let page: Page;
  let workDir: string;
  let pageErrors: string[] = [];
  const batchId = `fridges-${randomUUID().slice(0, 8)}`;

  const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const rolloutStatus = (status: string) =>
    page.locator('[data-field="rollout-status"]').filter({ hasText: new RegExp(`^${status}$`) });
  const uploadImage = async (version: string) => {
    const file = join(workDir, `fridge-${version}.bin`);
    await writeFile(file, randomBytes(48 * 1024));
    await page.goto(`${gateway.url}/#/firmware`);
    const form = page.getByRole('region', { name: 'Upload an image' });
    await form.getByLabel('Image file').setInputFiles(file);
    await form.getByLabel('Product').fill('fridge-x200');
    await form.getByLabel('Version').fill(version);
    await form.getByRole('button', { name: 'Upload and sign' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `fridge-x200 ${version} uploaded and signed` })
      .waitFor(ui);
    await page
      .locator('table[aria-label="Firmware images"] td[data-field="version"]', { hasText: version })
      .waitFor(ui);
  };
  const startRollout = async (version: string, waves: string) => {
    const form = page.getByRole('region', { name: 'Start a rollout' });
    const image = form.getByLabel('Image');
    const option = image.locator('option', { hasText: `fridge-x200 ${version} ` });
    await option.waitFor({ state: 'attached', ...ui });
    await image.selectOption((await option.getAttribute('value'))!);
    await form.getByLabel('Batches').selectOption(batchId);
    await form.getByLabel('Waves (%)').fill(waves);
    await form.getByLabel('Pause above (% failed)').fill('0');
    await form.getByRole('button', { name: 'Start rollout' }).click();
    await page.waitForURL(/#\/rollout\?id=/, ui);
  };

  beforeAll(async () => {
    await nats.setup();
    await mkdir(artifacts, { recursive: true });
    workDir = await mkdtemp(join(tmpdir(), 'tk-ota-console-e2e-'));
    const namespace = nats.namespace;
    platform = await startPlatform({ nats: nats.nc, namespace, logger, onboarding: false });
    fleet = await createFleet({
      nats: nats.nc,
      namespace,
      size: fleetSize,
      seedBase: `ota-console-${batchId}`,
      platformPublicKey: platform.platformPublicKeySpki,
      firmwareFaults: { 'failing-boot': 1 },
      firmwareUpdates: { stallMs: 1_000 },
    });
    await operator.defineBatch(platform, batchId, fleetSize);
    await operator.importIdentities(platform, fleet, batchId);
    await operator.verify(platform, batchId, fleetSize);
    await operator.certify(platform, batchId, fleetSize);
    otaNc = await connectNats({ servers: nats.url, name: 'ota-console-e2e' });
    ota = await startOta({
      nats: otaNc,
      namespace,
      platformKey: platform.platformKey,
      kek: await Kek.fromBytes(randomBytes(32)),
      logger,
      env: {},
      config: { httpPort: 0, tickMs: 100, offerRetryMs: 1_000, deadlineSeconds: 60, keysWaitMs: 30_000 },
    });
    await platform.send(RegisterFirmwareProduct, {
      product: 'fridge-x200',
      name: 'Fridge X200',
      baselineVersion: '1.0.0',
    });
    gateway = await startGateway({ nats: nats.nc, namespace, httpPort: 0, adminToken, logger, nestLogger: ['error'] });

    ({ browser, page, problems: pageErrors } = await launchConsoleBrowser(join(workDir, 'profile')));
    await page.goto(gateway.url);
    await page.getByLabel('API token').fill(adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Firmware' }).waitFor(ui);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await ota?.stop();
    await otaNc?.close();
    await fleet?.stop();
    await platform?.stop();
    await nats.teardown();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 60_000);

  afterEach(() => {
    // No script error, no CSP violation, no failed request on any page.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  it('uploads an image from the firmware page: hashed in the page, streamed, signed and listed', async () => {
    await uploadImage('2.0.0');
    const row = page.locator('table[aria-label="Firmware images"] tr', { hasText: '2.0.0' });
    await expect(row.locator('td').nth(5).textContent()).resolves.toMatch(/^v1 · /);
    await shot('firmware');
  });

  it('starts a rollout, follows it live as it pauses itself on the failing device, resumes it and sees it complete', async () => {
    await startRollout('2.0.0', '50, 100');
    await rolloutStatus('paused').waitFor(rolloutStep);
    await page.locator('[data-field="Paused because"]', { hasText: /failed/ }).waitFor(ui);
    expect(await page.locator('button[data-action="pause"]').isDisabled()).toBe(true);
    await shot('rollout-paused');
    // The failing device may fall in the last wave: that wave pauses too, and is resumed again.
    const status = page.locator('[data-field="rollout-status"]');
    for (let round = 0; round < 3; round++) {
      await status.filter({ hasText: /^(completed|paused)$/ }).waitFor(rolloutStep);
      if ((await status.textContent()) === 'completed') break;
      await page.locator('button[data-action="resume"]').click();
      await status.filter({ hasText: /^(running|completed)$/ }).waitFor(ui);
    }
    await rolloutStatus('completed').waitFor(ui);
    await page.locator('li[data-reason="failed: boot-failed"]', { hasText: 'failed: boot-failed: 1' }).waitFor(ui);
    await expect(page.locator('tr[data-status="updated"]').count()).resolves.toBe(fleetSize - 1);
    for (const kind of ['pause', 'resume', 'abort'])
      expect(await page.locator(`button[data-action="${kind}"]`).isDisabled()).toBe(true);
    await shot('rollout-completed');
  });

  it('aborts a paused rollout with the button, after confirming', async () => {
    await uploadImage('3.0.0');
    await startRollout('3.0.0', '100');
    await rolloutStatus('paused').waitFor(rolloutStep);
    await page.locator('button[data-action="abort"]').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Abort rollout' }).click();
    await rolloutStatus('aborted').waitFor(ui);
    expect(await page.locator('button[data-action="resume"]').isDisabled()).toBe(true);
    await shot('rollout-aborted');
  });
});
