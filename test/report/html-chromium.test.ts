/**
 * Opens report.html in a real headless Chromium (the Debian `chromium` package) and checks what a reader gets: no
 * errors, no network requests, no script run, charts drawn with the right bars. Leaves screenshots in test-output/.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReportFiles } from '../../lib/report/files.js';
import { MAX_CHART_BARS, snatHoldingFlows } from '../../lib/report/format.js';
import type { Report } from '../../lib/report/model.js';
import { culpritReport, emptyReport, hostileReport, manyPodsReport } from '../fixtures/report/sample.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = resolve(import.meta.dirname, '../../test-output');

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: this test needs the Debian 'chromium' package. .ci/run installs it ` +
        '(apt-get install chromium); install it the same way to run the test locally.',
    );
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

interface Opened {
  readonly page: Page;
  readonly problems: string[];
  readonly requests: string[];
  readonly dialogs: string[];
}

async function open(report: Report, name: string): Promise<Opened> {
  const dir = join(OUTPUT, 'chromium', name);
  const { html } = await writeReportFiles(report, dir);
  const url = pathToFileURL(html).href;
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  const requests: string[] = [];
  const dialogs: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('request', (r) => {
    if (r.url() !== url && !r.url().startsWith('data:')) requests.push(r.url());
  });
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems, requests, dialogs };
}

// Locator APIs and string expressions only: the project compiles without the DOM library.
async function attributes(page: Page, selector: string, name: string): Promise<Array<string | null>> {
  return Promise.all((await page.locator(selector).all()).map((l) => l.getAttribute(name)));
}

async function barValues(page: Page, chartId: string): Promise<number[]> {
  return (await attributes(page, `#${chartId} g.bar`, 'data-value')).map(Number);
}

async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
}

async function expectVisibleChart(page: Page, chartId: string): Promise<void> {
  const chart = page.locator(`svg#${chartId}`);
  await expect(chart.count()).resolves.toBe(1);
  expect(await chart.isVisible()).toBe(true);
  const box = await chart.boundingBox();
  expect(box?.width ?? 0).toBeGreaterThan(300);
  expect(box?.height ?? 0).toBeGreaterThan(40);
}

describe('report.html in headless Chromium', () => {
  it('renders the culprit report with no errors, no requests and the right charts', async () => {
    const { page, problems, requests, dialogs } = await open(culpritReport, 'culprit');
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(dialogs).toEqual([]);
    expect(await page.title()).toBe('SNAT investigation: aks-nodepool1-38290145-vmss000003 (10.224.0.5)');
    expect(await page.locator('script').count()).toBe(0);

    for (const id of ['chart-pods', 'chart-destinations', 'chart-snat']) await expectVisibleChart(page, id);
    expect(await barValues(page, 'chart-pods')).toEqual(culpritReport.pods.map(snatHoldingFlows));
    expect(await barValues(page, 'chart-pods')).toEqual([882, 64, 2, 0]);
    expect(await barValues(page, 'chart-destinations')).toEqual([870, 64, 12, 2]);
    expect(await page.locator('#chart-destinations g.reference').getAttribute('data-value')).toBe('1024');
    expect(await page.locator('#chart-snat g.gauge-used').getAttribute('data-value')).toBe('1019');

    // The longest bar is drawn longest: the chart is to scale, not just labelled.
    const segments = await page.locator('#chart-destinations g.bar rect.segment').all();
    const widths = await Promise.all(segments.map(async (l) => (await l.boundingBox())?.width ?? 0));
    expect(widths).toHaveLength(4);
    expect(widths[0]).toBeGreaterThan(widths[1] ?? Infinity);
    expect(await page.locator('#verdict').innerText()).toContain(
      'Most likely culprit: payments/checkout-api-7d9f8b6c5d-x2k4p (Deployment/checkout-api) holds 870 of 1,024 allocated SNAT ports toward 20.1.2.3:443 (85%)',
    );
    expect(await page.locator('#pods > .table-wrap').first().locator('tbody tr').count()).toBe(4);

    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);

    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'report.png'), fullPage: true });
    await page.emulateMedia({ media: 'print' });
    for (const id of ['chart-pods', 'chart-destinations', 'chart-snat']) await expectVisibleChart(page, id);
    await page.screenshot({ path: join(OUTPUT, 'report-print.png'), fullPage: true });
    await page.close();
  });

  it('shows hostile names as text: no script runs, nothing is loaded, the layout holds', async () => {
    const { page, problems, requests, dialogs } = await open(hostileReport, 'hostile');
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(dialogs).toEqual([]);
    expect(await page.locator('script, img, iframe, object, embed, style:not(head style)').count()).toBe(0);
    expect(await page.locator('h1').innerText()).toBe(
      'SNAT investigation: node node-<script>alert(1)</script> (10.0.0.9)',
    );
    expect(await page.locator('#pods tbody tr').first().locator('td').nth(2).innerText()).toBe(
      'Deployment/<img src=x onerror=alert(1)>',
    );
    // Only http(s) and relative artifacts become links, and an attribute-breaking URL stays text.
    expect(await attributes(page, '#artifacts a', 'href')).toEqual(['report.json', 'report.md']);
    expect(await page.locator('[onmouseover], [onerror]').count()).toBe(0);
    expect(await barValues(page, 'chart-pods')).toEqual([64, 4, 0]);
    expect(await barValues(page, 'chart-destinations')).toEqual([64, 4]);
    expect(await page.locator('#chart-pods g.bar').first().getAttribute('data-label')).toBe(
      '#1 evil|ns/<script>alert(1)</script>',
    );
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(OUTPUT, 'report-hostile.png'), fullPage: true });
    await page.close();
  });

  it('says "no data" in every chart of an empty, degraded report', async () => {
    const { page, problems, requests } = await open(emptyReport, 'empty');
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    for (const id of ['chart-pods', 'chart-destinations', 'chart-snat']) {
      await expectVisibleChart(page, id);
      expect(await page.locator(`#${id} g.bar`).count()).toBe(0);
      expect(await page.locator(`#${id} text.no-data`).textContent()).toMatch(/^No data: /);
    }
    expect(await page.locator('#degraded li').count()).toBe(3);
    expect(await page.locator('#verdict').innerText()).toContain('No pod could be ranked.');
    await page.screenshot({ path: join(OUTPUT, 'report-empty.png'), fullPage: true });
    await page.close();
  });

  it(`draws at most ${MAX_CHART_BARS} bars for a node with many pods`, async () => {
    const { page, problems } = await open(manyPodsReport, 'many');
    expect(problems).toEqual([]);
    expect(await page.locator('#chart-pods g.bar').count()).toBe(MAX_CHART_BARS);
    expect(await page.locator('#chart-destinations g.bar').count()).toBe(MAX_CHART_BARS);
    expect(await page.locator('#pods > .table-wrap').first().locator('tbody tr').count()).toBe(25);
    await page.close();
  });
});
