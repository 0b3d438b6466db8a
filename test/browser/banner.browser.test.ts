import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { bearer } from '../identity/support.js';
import { apiKeyClient } from '../tenancy/api-key-support.js';
import { launchBrowser } from './browser.js';
import type { LaunchedBrowser } from './browser.js';
import { startServer } from './server.js';
import type { RunningServer } from './server.js';

/**
 * The consent banner in a real browser, embedded by an org's site on another origin whose CSP is
 * as strict as it gets: only Rampart's origin for scripts, styles and connections, no inline
 * anything. Any CSP violation fails the test; so does a banner that cannot be used by keyboard.
 */


describe('the consent banner on an org site with a strict CSP', () => {
  let server: RunningServer;
  let browser: LaunchedBrowser;
  let org: { id: string; publicId: string; adminToken: string };
  // The org's site: another origin on the loopback (Chromium's local network access rules stop a
  // page of a public origin from loading a script from a local address, as a test would need).
  let site: Server;
  let SITE = '';

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
    site = createServer((_request, response) => {
      const csp = `default-src 'none'; script-src ${server.url}; style-src ${server.url}; connect-src ${server.url}; base-uri 'none'`;
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp });
      response.end(`<!doctype html><html lang="en"><head><title>Shop</title></head><body><a href="#top" id="first">Shop home</a>
<script src="${server.url}/consent/banner.js" data-org="${org.publicId}" data-policy-version="2026-01" defer></script></body></html>`);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    SITE = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    const keys = apiKeyClient(server.t);
    const made = await keys.org();
    await server.t.app.inject({ method: 'PATCH', url: `/v1/orgs/${made.id}/privacy-settings`, headers: bearer(made.admin.token), payload: { allowed_origins: [SITE] } });
    const settings = await server.t.app.inject({ method: 'GET', url: `/v1/orgs/${made.id}/privacy-settings`, headers: bearer(made.admin.token) });
    org = { id: made.id, publicId: settings.json<{ public_id: string }>().public_id, adminToken: made.admin.token };
  }, 120_000);

  afterAll(async () => {
    await new Promise((resolve) => site?.close(resolve));
    await browser?.close();
    await server?.close();
  });

  /** Opens the org's site in a fresh context; collects CSP violations and console errors. */
  async function openSite(context: BrowserContext): Promise<{ page: Page; violations: string[] }> {
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') violations.push(message.text());
    });
    // Listening before the page's scripts run (an init script is not subject to the page's CSP).
    await page.addInitScript('window.__consentEvents = []; document.addEventListener("rampart:consent", (event) => window.__consentEvents.push(event.detail));');
    await page.goto(`${SITE}/`);
    await page.getByRole('dialog', { name: 'Your privacy choices' }).waitFor({ timeout: 10_000 }).catch((error: unknown) => {
      throw new Error(`no banner (${violations.join('; ')})`, { cause: error });
    });
    return { page, violations };
  }

  async function consentsOf(subject: string) {
    // The public endpoint stores its subjects under the visitor namespace.
    const response = await server.t.app.inject({ method: 'GET', url: `/v1/orgs/${org.id}/consents/${encodeURIComponent(`visitor:${subject}`)}`, headers: bearer(org.adminToken) });
    return response.json<{ current: { purposes: Record<string, boolean>; source: string; signal: string | null; policy_version: string } }>();
  }

  it('is usable by keyboard alone, records the choice, and tells the page', async () => {
    const context = await browser.newContext();
    const { page, violations } = await openSite(context);
    // Focus is in the banner on its first button; the checkboxes carry their labels.
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Essential only');
    await expect(page.getByLabel('Essential').isDisabled()).resolves.toBe(true);
    await expect(page.getByLabel('Essential').isChecked()).resolves.toBe(true);
    // Back past Marketing to Analytics (Essential is disabled, so not focusable).
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate('document.activeElement.name')).toBe('analytics');
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Save choices');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor({ state: 'detached' });

    const expected = { necessary: true, analytics: true, marketing: false };
    expect(await page.evaluate('window.RampartConsent.get()')).toEqual(expected);
    expect(await page.evaluate('window.__consentEvents')).toEqual([expected]);
    const subject = (await page.evaluate(`JSON.parse(localStorage.getItem('rampart-consent:${org.publicId}')).subject_id`)) as string;
    expect(await consentsOf(subject)).toMatchObject({ current: { purposes: expected, source: 'banner', signal: null, policy_version: '2026-01' } });
    expect(violations).toEqual([]);

    // Reloaded: no banner, the stored choice is announced again; open() brings the banner back.
    await page.reload();
    await page.waitForFunction('window.__consentEvents.length === 1');
    expect(await page.getByRole('dialog').count()).toBe(0);
    await page.evaluate('window.RampartConsent.open()');
    await expect(page.getByLabel('Analytics').isChecked()).resolves.toBe(true);
    await context.close();
  });

  it('records an opt-out under Global Privacy Control whatever is clicked, and styles without inline style', async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { 'Sec-GPC': '1' } });
    const { page, violations } = await openSite(context);
    const position = await page.evaluate('getComputedStyle(document.querySelector(".rampart-consent")).position');
    expect(position).toBe('fixed');
    expect(await page.evaluate('document.querySelectorAll("[style]").length')).toBe(0);
    await page.getByRole('button', { name: 'Accept all' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect(await page.evaluate('window.RampartConsent.get()')).toEqual({ necessary: true, analytics: false, marketing: false });
    const subject = (await page.evaluate(`JSON.parse(localStorage.getItem('rampart-consent:${org.publicId}')).subject_id`)) as string;
    expect(await consentsOf(subject)).toMatchObject({ current: { signal: 'gpc', purposes: { analytics: false, marketing: false } } });
    expect(violations).toEqual([]);
    await context.close();
  });
});
