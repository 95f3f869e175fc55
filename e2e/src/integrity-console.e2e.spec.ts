/**
 * Issue 17's console page, end to end in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core) on the real NATS (isolated by a namespace): the registry monitors 3 heartbeating
 * PUF devices under a policy that quarantines; one runs a tampered image. An operator uses only the
 * browser: sees the violation in the alert list, opens the device's integrity timeline (quarantined,
 * the expected measurement, the violation and the quarantine) and releases it after confirming.
 * Waiting is Playwright's (locators, bounded), never a sleep.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SetIntegrityPolicy } from '@tunnelkey/contracts';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { startGateway, type RunningGateway } from '@tunnelkey/gateway';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import { consoleArtifacts as artifacts, launchConsoleBrowser } from './support/console-browser.js';
import { operator, startPlatform, type Platform } from './support/platform.js';

const nats = natsFixture({ prefix: 'intconsole' });
const fleetSize = 3;
const logger = pino({ level: 'error' });
const adminToken = randomBytes(32).toString('base64url');
const ui = { timeout: 15_000 };
const detection = { timeout: 60_000 };

describe('console: an operator follows integrity alerts and releases a quarantined device from headless Chromium', () => {
  let platform: Platform;
  let fleet: Fleet;
  let gateway: RunningGateway;
  let browser: BrowserContext;
  let page: Page;
  let workDir: string;
  let pageErrors: string[] = [];
  const batchId = `integrity-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    await nats.setup();
    await mkdir(artifacts, { recursive: true });
    workDir = await mkdtemp(join(tmpdir(), 'tk-integrity-console-e2e-'));
    const namespace = nats.namespace;
    platform = await startPlatform({ nats: nats.nc, namespace, logger, onboarding: false });
    fleet = await createFleet({
      nats: nats.nc,
      namespace,
      size: fleetSize,
      seedBase: `integrity-console-${batchId}`,
      platformPublicKey: platform.platformPublicKeySpki,
    });
    await operator.defineBatch(platform, batchId, fleetSize);
    await platform.send(SetIntegrityPolicy, {
      policyId: `fridge-policy-${batchId}`,
      heartbeatPeriodSeconds: 1,
      missedPeriods: 30,
      action: 'quarantine',
    });
    await operator.importIdentities(platform, fleet, batchId);
    // Verified: the measurement each device proves its identity with is the one its heartbeats must report.
    await operator.verify(platform, batchId, fleetSize);
    gateway = await startGateway({ nats: nats.nc, namespace, httpPort: 0, adminToken, logger, nestLogger: ['error'] });
    ({ browser, page, problems: pageErrors } = await launchConsoleBrowser(join(workDir, 'profile')));
    await page.goto(gateway.url);
    await page.getByLabel('API token').fill(adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Integrity' }).waitFor(ui);
    fleet.heartbeats.start(1_000);
  }, 240_000);

  afterAll(async () => {
    fleet?.heartbeats.stop();
    await browser?.close();
    await gateway?.stop();
    await fleet?.stop();
    await platform?.stop();
    await nats.teardown();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 60_000);

  afterEach(() => {
    // No script error, no CSP violation, no failed request on any page.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  it('shows the tampered device in the alert list, its timeline, and releases it after confirming', async () => {
    const tampered = [...fleet.devices()][0]!.deviceId;
    fleet.heartbeats.inject(tampered, 'tampered-measurement');
    await page.getByRole('link', { name: 'Integrity' }).click();
    const alerts = page.getByRole('table', { name: 'Integrity alerts' });
    await alerts.locator(`tr[data-device="${tampered}"]`, { hasText: 'measurement-mismatch' }).waitFor(detection);
    await page.screenshot({ path: join(artifacts, 'integrity-alerts.png'), fullPage: true });

    await alerts.getByRole('link', { name: tampered }).click();
    await page.locator('[data-field="Status"]', { hasText: 'quarantined' }).waitFor(ui);
    const timeline = page.getByRole('table', { name: 'Integrity timeline' });
    await timeline.locator('tr', { hasText: 'IntegrityViolationDetected' }).waitFor(ui);
    await timeline.locator('tr', { hasText: 'DeviceQuarantined' }).waitFor(ui);
    await page.screenshot({ path: join(artifacts, 'integrity-device.png'), fullPage: true });

    await page.locator('button[data-action="release"]').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Release', exact: true }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `${tampered} released from quarantine` })
      .waitFor(ui);
    await page.locator('[data-field="Status"]', { hasText: 'monitored' }).waitFor(ui);
    await timeline.locator('tr', { hasText: 'DeviceQuarantineReleased' }).waitFor(ui);
  }, 180_000);
});
