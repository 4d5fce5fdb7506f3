/**
 * The status page in headless Chromium (Debian package `chromium`, driven by playwright-core): it loads
 * with no console error (a CSP violation would be one), shows a backend that joins through the control
 * plane, marks it gone when it leaves, and draws the rate charts. The run saves a screenshot to
 * `test-results/status-page.png`. Without /usr/bin/chromium the test is skipped with a message.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import type { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { startAgentProxy, type AgentProxy } from '../../helpers/agent-proxy.js';
import { send } from '../../helpers/data-plane-client.js';
import { adminPort } from './admin-client.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.resolve('test-results', 'status-page.png');
const haveChromium = existsSync(CHROMIUM);
const describeInBrowser = haveChromium ? describe : describe.skip;
if (!haveChromium) {
  process.stderr.write(`status page browser test SKIPPED: ${CHROMIUM} is missing (install the Debian package "chromium")\n`);
}


describeInBrowser(`status page in headless Chromium (${CHROMIUM})`, () => {
  let proxy: ProxyServer;
  let port: number;
  let fixture: AgentProxy | undefined;
  let context: BrowserContext | undefined;
  let userDataDir: string;

  beforeAll(async () => {
    fixture = await startAgentProxy({ admin: { sampleIntervalMs: 250 } });
    ({ proxy, port } = fixture);
    userDataDir = mkdtempSync(path.join(tmpdir(), 'inteli-chromium-'));
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1360, height: 860 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await context?.close();
    await fixture?.stop();
    if (userDataDir !== undefined) rmSync(userDataDir, { recursive: true, force: true });
  });

  async function agent(id: string, rule: string, weight = 1): Promise<ProxyWebServer> {
    const web = await fixture!.agent(id, rule, (_req, res) => res.end(id), { weight });
    await web.start();
    return web;
  }

  it('loads without console errors, shows a backend that joins and marks it gone when it leaves', async () => {
    const page = context!.pages()[0] ?? (await context!.newPage());
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));

    await page.goto(`http://127.0.0.1:${adminPort(proxy)}/`);
    await page.locator('#ready', { hasText: 'Ready' }).waitFor({ timeout: 5000 });
    await page.locator('#rules', { hasText: 'No rules yet' }).waitFor({ timeout: 5000 });

    const web1 = await agent('web-1', '/api');
    await agent('web-2', '/api', 2);
    await agent('shop-1', '/shop');
    await page.locator('tr[data-agent="web-1"][data-state="ready"]').waitFor({ timeout: 5000 });
    await page.locator('tr[data-agent="shop-1"][data-state="ready"]').waitFor({ timeout: 5000 });

    // Some traffic over a few sampling intervals, so that the charts have lines.
    for (let round = 0; round < 6; round += 1) {
      await Promise.all([...Array.from({ length: 6 }, () => send(port, '/api/items')), send(port, '/shop/cart')]);
      await new Promise((resolve) => setTimeout(resolve, 120));
    }

    await web1.stop();
    const gone = page.locator('tr[data-agent="web-1"][data-state="gone"]');
    await gone.waitFor({ timeout: 5000 });
    expect(await gone.innerText()).toContain('drained');
    expect(await page.locator('tr[data-agent="web-1"][data-state="ready"]').count()).toBe(0);
    expect(await page.locator('tr[data-agent="web-2"][data-state="ready"]').count()).toBe(1);
    await page.locator('#chart-rules polyline').first().waitFor({ timeout: 5000 });
    expect(await page.locator('#chart-backends .legend').innerText()).toContain('web-2');
    expect(await page.locator('#events').innerText()).toContain('removed');

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(problems).toEqual([]);
  });
});
