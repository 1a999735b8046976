/**
 * The web console in headless Chromium (playwright-core) against a real control plane and two real
 * agents: the page follows a deployment live (a held hook's row goes from InProgress to Succeeded
 * without a reload), Stop works through the public API, and the other views show the fleet.
 * A screenshot goes to the test's temp dir (its path is logged), and to docs/images/console.png
 * when CDA_UPDATE_SCREENSHOT=1. Skipped when /usr/bin/chromium is not installed.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateDeploymentCommand, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../../control-plane/server.js';
import {
  clients,
  createAppAndGroup,
  s3Revision,
  startFleet,
  startTestControlPlane,
  uploadFleetApp,
  type TestFleet,
  type UploadedRevision,
} from '../../helpers/control-plane.js';
import { suiteTempDir } from '../../helpers/temp.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`console-browser.test.ts skipped: ${CHROMIUM} is not installed (apt-get install chromium).`);

const SCREENSHOT_FOR_README = join(import.meta.dirname, '..', '..', '..', 'docs', 'images', 'console.png');

describe.skipIf(!haveChromium)('web console in a browser', () => {
  let cp: ControlPlane;
  let sdk: ReturnType<typeof clients>;
  let fleet: TestFleet;
  let browser: Browser;
  let page: Page;
  let holdFile: string;
  let shots: string;
  let revision: UploadedRevision;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    cp = await startTestControlPlane();
    sdk = clients(cp);
    shots = await suiteTempDir('cda-console-shots-');
    holdFile = join(await suiteTempDir('cda-console-hold-'), 'hold');
    fleet = await startFleet(cp, sdk.deploy, 2, { tag: 'console', env: { HOOK_SLEEP_SECONDS: '0.2', HOLD_FILE: holdFile } });
    await createAppAndGroup(sdk.deploy, {
      application: 'WebShop',
      group: 'production',
      config: 'CodeDeployDefault.AllAtOnce',
      tag: 'console',
    });
    revision = await uploadFleetApp(sdk.s3, { bucket: 'releases', key: 'webshop/2026.07.1.tgz', version: '2026.07.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('pageerror', (err) => pageErrors.push(`page error: ${err.message}`));
    page.on('response', (res) => {
      if (res.status() >= 400) pageErrors.push(`HTTP ${res.status()} for ${res.url()}`);
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(`console error: ${msg.text()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await rm(holdFile ?? '', { force: true });
    await browser?.close();
    await fleet?.stop();
    await cp?.close();
  });

  const deploy = async (description: string) => {
    const out = await sdk.deploy.send(
      new CreateDeploymentCommand({
        applicationName: 'WebShop',
        deploymentGroupName: 'production',
        revision: s3Revision(revision),
        description,
      }),
    );
    return out.deploymentId!;
  };
  const eventStatus = (host: string, event: string) =>
    page
      .locator(`section[data-host="${host}"] tr[data-event="${event}"] [data-field="status"]`)
      .textContent({ timeout: 1000 })
      .catch(() => null);
  const pageStatus = () =>
    page
      .locator('dd[data-field="Status"]')
      .textContent({ timeout: 1000 })
      .catch(() => null);
  const apiStatus = async (id: string) => (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId: id }))).deploymentInfo?.status;

  it('follows a deployment live: a held hook goes from InProgress to Succeeded without a reload', async () => {
    await writeFile(holdFile, 'hold');
    const id = await deploy('Release 2026.07.1');
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    await page.goto(`${cp.consoleUrl}#/deployments/${id}`);
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 10_000 }).toBe('Live');
    const loads = navigations;
    await page.evaluate("window.consoleTestMarker = 'same page'"); // page code runs in the browser (no DOM types here)

    // Both hosts are held inside ApplicationStart; the page shows it as it happens.
    for (const host of ['host-1', 'host-2'])
      await expect.poll(() => eventStatus(host, 'ApplicationStart'), { timeout: 60_000, interval: 200 }).toBe('InProgress');
    expect(await eventStatus('host-1', 'AfterInstall')).toBe('Succeeded');
    expect(await eventStatus('host-1', 'ValidateService')).toBe('Pending');
    expect(await pageStatus()).toBe('InProgress');
    expect(await page.getByRole('button', { name: 'Stop deployment' }).isVisible()).toBe(true);

    const shot = join(shots, 'console.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`console screenshot: ${shot}`);
    if (process.env.CDA_UPDATE_SCREENSHOT === '1') {
      await mkdir(join(SCREENSHOT_FOR_README, '..'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT_FOR_README });
      console.log(`console screenshot for the README: ${SCREENSHOT_FOR_README}`);
    }

    await rm(holdFile);
    for (const host of ['host-1', 'host-2'])
      await expect.poll(() => eventStatus(host, 'ApplicationStart'), { timeout: 30_000, interval: 200 }).toBe('Succeeded');
    await expect.poll(pageStatus, { timeout: 30_000, interval: 200 }).toBe('Succeeded');
    expect(await eventStatus('host-2', 'ValidateService')).toBe('Succeeded');
    // Still the same document: updates came over the event stream, not from reloads.
    expect(navigations).toBe(loads);
    expect(await page.evaluate('window.consoleTestMarker')).toBe('same page');
    expect(await page.locator('#announcer').textContent()).toContain(`Deployment ${id} is Succeeded.`);
  }, 120_000);

  it('stops a held deployment from its page: the API reports Stopped, and so does the page', async () => {
    await writeFile(holdFile, 'hold');
    try {
      const id = await deploy('Release to stop');
      await page.goto(`${cp.consoleUrl}#/deployments/${id}`);
      await expect.poll(() => eventStatus('host-1', 'ApplicationStart'), { timeout: 60_000, interval: 200 }).toBe('InProgress');
      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: 'Stop deployment' }).click();
      await expect.poll(() => apiStatus(id), { timeout: 30_000, interval: 200 }).toBe('Stopped');
      await expect.poll(pageStatus, { timeout: 10_000, interval: 200 }).toBe('Stopped');
      expect(await page.locator('#action-result').textContent()).toMatch(/Stop requested/);
      // A stopped deployment offers Redeploy instead of Stop.
      expect(await page.getByRole('button', { name: 'Redeploy this revision' }).isVisible()).toBe(true);
      expect(await page.getByRole('button', { name: 'Stop deployment' }).count()).toBe(0);

      // Redeploy: a new deployment of the same revision, and the page follows it.
      await rm(holdFile);
      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: 'Redeploy this revision' }).click();
      await expect.poll(() => page.evaluate('window.location.hash'), { timeout: 10_000 }).not.toBe(`#/deployments/${id}`);
      const again = String(await page.evaluate('window.location.hash')).replace('#/deployments/', '');
      expect(again).toMatch(/^d-[A-Z0-9]{9}$/);
      await expect.poll(() => apiStatus(again), { timeout: 60_000, interval: 200 }).toBe('Succeeded');
      const [before, after] = await Promise.all(
        [id, again].map(async (deploymentId) => (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo),
      );
      expect(after?.revision).toEqual(before?.revision);
      expect(after?.description).toBe(`Redeploy of ${id} (console)`);
      await expect.poll(pageStatus, { timeout: 10_000, interval: 200 }).toBe('Succeeded');
    } finally {
      await rm(holdFile, { force: true });
    }
  }, 120_000);

  it("shows a failed hook's error code, message and script output", async () => {
    const bad = await uploadFleetApp(sdk.s3, { bucket: 'releases', key: 'webshop/broken.tgz', failOn: ['host-1', 'host-2'] });
    const { deploymentId } = await sdk.deploy.send(
      new CreateDeploymentCommand({ applicationName: 'WebShop', deploymentGroupName: 'production', revision: s3Revision(bad) }),
    );
    await page.goto(`${cp.consoleUrl}#/deployments/${deploymentId}`);
    await expect.poll(pageStatus, { timeout: 60_000, interval: 200 }).toBe('Failed');
    await expect.poll(() => eventStatus('host-2', 'ValidateService'), { timeout: 10_000, interval: 200 }).toBe('Failed');
    const row = page.locator('section[data-host="host-2"] tr[data-event="ValidateService"]');
    expect(await row.locator('strong').textContent()).toBe('ScriptFailed');
    await row.locator('summary').click();
    expect(await row.locator('pre').textContent()).toContain('validation failed on host-2 (listed in app/fail-on)');
    expect(await page.locator('dd[data-field="Error"]').textContent()).toMatch(/^[A-Z_]+: /);
  }, 90_000);

  it('lists deployments, applications and hosts, and is keyboard navigable', async () => {
    await page.goto(`${cp.consoleUrl}#/deployments`);
    const rows = page.locator('tbody tr[data-deployment]');
    // Newest first: the failed one, the redeploy, the stopped one, the first one.
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(4);
    expect(await rows.nth(1).textContent()).toContain('Succeeded');
    expect(await rows.nth(2).textContent()).toContain('Stopped');
    expect(await rows.nth(2).locator('code').textContent()).toBe(
      `s3://releases/webshop/2026.07.1.tgz (tgz, version ${revision.version}, etag ${revision.eTag})`,
    );

    // Keyboard, from a fresh load: the skip link, then the navigation, to the Hosts view.
    await page.reload();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(4);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Hosts');
    await page.keyboard.press('Enter');
    const host = page.locator('tr[data-host="host-1"]');
    await expect.poll(() => host.textContent(), { timeout: 10_000 }).toContain('fleet=console');
    expect(await host.textContent()).toContain('Registered');
    expect(await host.locator('a').textContent()).toMatch(/^d-[A-Z0-9]{9}$/);
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');

    await page.getByRole('link', { name: 'Applications' }).click();
    await expect.poll(() => page.locator('main h2').first().textContent(), { timeout: 10_000 }).toBe('WebShop');
    expect(await page.locator('main table').first().textContent()).toContain('production');
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('leaves signed S3 ListBuckets at GET / to S3', async () => {
    const out = await sdk.s3.send(new ListBucketsCommand({}));
    expect(out.Buckets?.map((b) => b.Name)).toContain('releases');
  });
});
