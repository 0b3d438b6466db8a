/**
 * Every main page of the dashboard in Debian's chromium at a phone's width (360 px): served under
 * the API's strict CSP, loading nothing from another origin, no CSP violation, nothing wider than
 * the screen, and no serious accessibility violation (axe-core).
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src/platform/http/security-headers.js';
import { Secret, TOTP } from 'otpauth';
import { createPlatformStaff } from '../../src/identity/index.js';
import { freshEmail, PASSWORD } from '../identity/support.js';
import { launchBrowser } from './browser.js';
import type { LaunchedBrowser } from './browser.js';
import { startServer } from './server.js';
import type { RunningServer } from './server.js';
import { expectAccessible, expectClean, screenshot, watchContext } from './support.js';
import type { PageWatch } from './support.js';

describe('dashboard pages', () => {
  let server: RunningServer;
  let chromium: LaunchedBrowser;

  beforeAll(async () => {
    [server, chromium] = await Promise.all([startServer(), launchBrowser()]);
  }, 120_000);
  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  }, 120_000);

  it('is served under the strict CSP, with every script and style a bundled file', async () => {
    const page = await fetch(`${server.url}/sign-in`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy');
    expect(csp).toBe(CONTENT_SECURITY_POLICY);
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
    const html = await page.text();
    // No inline script or style: every <script> has a same-origin src, no style element or attribute.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc="\/assets\/)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=/);
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      const response = await fetch(`${server.url}${asset}`);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('cache-control')).toContain('immutable');
      expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    }
    // The API keeps its JSON 404s; only the dashboard's page paths answer with the app.
    const unknown = await fetch(`${server.url}/v1/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await fetch(`${server.url}/assets/missing.js`)).status).toBe(404);
  });

  it('loads nothing from another origin, fits 360 px and passes axe on every main page', async () => {
    const context: BrowserContext = await chromium.newContext({ viewport: { width: 360, height: 740 } });
    const watch: PageWatch = await watchContext(context, server.url);
    const page: Page = await context.newPage();

    const check = async (label: string, ready: () => Promise<unknown>) => {
      await ready().catch(async (error: unknown) => {
        await screenshot(page, `failed-${label.replaceAll('/', '_')}`);
        throw error;
      });
      // Elements reaching past the right edge; tables scroll inside their own wrapper instead.
      const wide = await page.evaluate(`[...document.querySelectorAll('body *')]
        .filter((element) => !element.closest('.table-wrap') && element.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map((element) => element.tagName.toLowerCase() + '.' + element.className)`);
      expect(wide, `${label} is wider than the screen`).toEqual([]);
      await expectAccessible(page, label);
    };

    for (const [path, heading] of [
      ['/sign-in', 'Sign in'],
      ['/forgot-password', 'Reset your password'],
      ['/platform/sign-in', 'Platform console sign-in'],
      ['/verify-email?token=x', 'Confirm your email address'],
    ] as const) {
      await page.goto(`${server.url}${path}`);
      await check(path, () => page.getByRole('heading', { name: heading }).waitFor());
    }

    // Keyboard only: Tab to the fields, type, Enter submits; the refusal is announced.
    await page.goto(`${server.url}/sign-in`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    for (let presses = 0; presses < 6 && (await page.evaluate('document.activeElement?.getAttribute("autocomplete")')) !== 'username'; presses++) {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.type(freshEmail('keyboard'));
    await page.keyboard.press('Tab');
    await page.keyboard.type('wrong password, wrong account');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').getByText('The email or password is not correct').waitFor();

    await page.goto(`${server.url}/sign-up`);
    await check('sign-up', () => page.getByRole('heading', { name: 'Create your account' }).waitFor());
    await page.getByLabel('Email').fill(freshEmail('mobile'));
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await check('account', () => page.getByRole('heading', { name: 'Your account', exact: true }).waitFor());
    await page.goto(`${server.url}/orgs/new`);
    await page.getByLabel('Organization name').fill('Small Screen GmbH');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await check('overview', () => page.getByRole('figure', { name: /Audit log volume/ }).waitFor());
    await screenshot(page, 'mobile-overview');
    const org = new URL(page.url()).pathname;

    const pages: Array<[string, string]> = [
      ['/account/mfa', 'Two-factor authentication'],
      ['/account/sessions', 'Active sessions'],
      ['/account/activity', 'Security events'],
      ['/account/data', 'Your data'],
      [`${org}/members`, 'Members'],
      [`${org}/api-keys`, 'API keys'],
      [`${org}/settings`, 'Settings'],
      [`${org}/audit`, 'Audit log'],
      [`${org}/privacy`, 'Data-subject requests'],
      [`${org}/privacy/consents`, 'Consents'],
      [`${org}/privacy/opt-outs`, 'Opt-out list'],
      [`${org}/privacy/ropa`, 'Records of processing activities'],
      [`${org}/privacy/export`, 'Organization export'],
    ];
    for (const [path, heading] of pages) {
      await page.goto(`${server.url}${path}`);
      await check(path, async () => {
        await page.getByRole('heading', { name: heading, exact: true }).waitFor();
        // Past the loading state: the page shows its content, an empty state or an error in words.
        // (Polled from here: waitForFunction with a string would need eval, which the CSP refuses.)
        await expect.poll(() => page.evaluate(`!document.querySelector('[role=status]')?.textContent?.endsWith('…')`)).toBe(true);
      });
    }
    await screenshot(page, 'mobile-export');

    // An API key: created, shown once, revocable.
    await page.goto(`${server.url}${org}/api-keys`);
    await page.getByLabel('Name').fill('CI pipeline');
    await page.getByLabel('audit:read').check();
    await page.getByRole('button', { name: 'Create key' }).click();
    await expect.poll(async () => (await page.getByTestId('new-api-key').textContent()) ?? '').toMatch(/^rk_/);
    await check('api key shown once', async () => undefined);
    await screenshot(page, 'api-key-created');

    expectClean(watch);
    await context.close();
  });

  it('gives platform staff their own sign-in, with TOTP enrolment, and the tenants list', async () => {
    const staff = await createPlatformStaff(server.t.db.database.db, server.t.config.identity.argon2, { email: freshEmail('ops'), name: 'Ops' });
    const context = await chromium.newContext({ viewport: { width: 1280, height: 860 } });
    const watch = await watchContext(context, server.url);
    const page = await context.newPage();
    await page.goto(`${server.url}/platform`);
    await page.getByRole('heading', { name: 'Platform console sign-in' }).waitFor();
    await page.getByLabel('Email').fill(staff.email);
    await page.getByLabel('Password').fill(staff.initialPassword);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Show QR code' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    await page.getByLabel('Code from the app').fill(new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate());
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    // The org the mobile test created is listed with its plan and MFA coverage.
    const row = page.getByRole('row').filter({ hasText: 'Small Screen GmbH' });
    await row.waitFor();
    expect(await row.textContent()).toContain('free');
    await expectAccessible(page, 'platform tenants');
    await screenshot(page, 'platform-tenants');
    // A reload resumes the staff session from its own cookie.
    await page.reload();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    expectClean(watch);
    await context.close();
  });
});

describe('an idle dashboard page', () => {
  let server: RunningServer;
  let chromium: LaunchedBrowser;

  beforeAll(async () => {
    // The shortest access token allowed (60 s): the page refreshes it 5 s after receiving it.
    [server, chromium] = await Promise.all([startServer({ RAMPART_ACCESS_TOKEN_TTL_SECONDS: '60' }), launchBrowser()]);
  }, 120_000);
  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  }, 120_000);

  it('refreshes its access token silently and keeps working', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/sign-up`);
    await page.getByLabel('Email').fill(freshEmail('idle'));
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
    // Nothing is clicked: the refresh happens on its own, from the cookie.
    const refreshed = await page.waitForResponse((response) => response.url().endsWith('/v1/auth/token/refresh'), { timeout: 30_000 });
    expect(refreshed.status()).toBe(200);
    expect(await refreshed.json()).not.toHaveProperty('refresh_token');
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByText('this browser').waitFor();
    await context.close();
  });
});
