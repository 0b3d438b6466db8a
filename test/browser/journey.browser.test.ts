/**
 * The dashboard end to end, in Debian's chromium: an owner signs up, enrols TOTP, signs out and
 * back in with a code, creates an org and invites a colleague, who accepts in a browser of their
 * own; the owner changes the colleague's role, finds those events in the audit log and verifies
 * the chain; the colleague revokes, from another device, the session of the first browser, which
 * lands on sign-in with a message; the owner exports the org. Every page is checked with axe and
 * watched for requests to other origins and CSP violations.
 */
import { Secret, TOTP } from 'otpauth';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshEmail, mailedToken, PASSWORD } from '../identity/support.js';
import { launchBrowser } from './browser.js';
import type { LaunchedBrowser } from './browser.js';
import { startServer } from './server.js';
import type { RunningServer } from './server.js';
import { expectAccessible, expectClean, screenshot, watchContext } from './support.js';
import type { PageWatch } from './support.js';

/** The code of the next 30-second step: the current one may already be spent by the enrolment. */
function nextTotp(secret: string): string {
  const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });
  return totp.generate({ timestamp: Date.now() + 30_000 });
}

describe('dashboard journey', () => {
  let server: RunningServer;
  let chromium: LaunchedBrowser;
  const watches: PageWatch[] = [];

  async function open(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await chromium.newContext({ viewport: { width: 1280, height: 860 } });
    watches.push(await watchContext(context, server.url));
    return { context, page: await context.newPage() };
  }

  beforeAll(async () => {
    // The free plan leaves whole-org export out by default; this operator lets its orgs export.
    [server, chromium] = await Promise.all([startServer({ RAMPART_PLANS: JSON.stringify({ free: { disabled: [] } }) }), launchBrowser()]);
  }, 120_000);
  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  }, 120_000);

  it('runs from sign-up to org export', async () => {
    const owner = { email: freshEmail('owner'), password: PASSWORD };
    const colleague = { email: freshEmail('colleague'), password: PASSWORD };
    const { page: a } = await open();

    // Sign up: the app signs the new account in and opens its account page.
    await a.goto(`${server.url}/sign-up`);
    await expectAccessible(a, 'sign-up');
    await a.getByLabel('Email').fill(owner.email);
    await a.getByLabel('Name (optional)').fill('Olivia Owner');
    await a.getByLabel('Password').fill(owner.password);
    await a.getByRole('button', { name: 'Create account' }).click();
    await a.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
    // Nothing of the session is readable by scripts or kept in storage.
    expect(await a.evaluate('[document.cookie, localStorage.length, sessionStorage.length]')).toEqual(['', 0, 0]);

    // TOTP enrolment: QR code, then a code computed here from the key, then the recovery codes.
    await a.getByRole('link', { name: 'Two-factor' }).click();
    await a.getByRole('button', { name: 'Set up two-factor' }).click();
    await a.getByRole('img', { name: /QR code/ }).waitFor();
    await a.getByText("Can't scan? Enter the key by hand").click();
    const secret = (await a.getByTestId('totp-secret').textContent())!.trim();
    await screenshot(a, 'totp-enrolment');
    const enrolCode = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate();
    await a.getByLabel('Code from the app').fill(enrolCode);
    await a.getByRole('button', { name: 'Confirm and turn on' }).click();
    await a.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    expect(await a.getByRole('list', { name: 'Recovery codes list' }).getByRole('listitem').count()).toBe(10);
    await screenshot(a, 'recovery-codes');
    await expectAccessible(a, 'recovery codes');
    await a.getByRole('button', { name: 'I have saved them' }).click();
    await a.getByText('Sign-ins ask for a code').waitFor();

    // Sign out, and back in with the password and a TOTP code.
    await a.getByRole('button', { name: 'Sign out' }).click();
    await a.getByText('You have signed out.').waitFor();
    await expectAccessible(a, 'sign-in');
    await a.getByLabel('Email').fill(owner.email);
    await a.getByLabel('Password').fill(owner.password);
    await a.getByRole('button', { name: 'Sign in' }).click();
    await a.getByLabel('Authentication code').fill(nextTotp(secret));
    await screenshot(a, 'mfa-challenge');
    await a.getByRole('button', { name: 'Verify' }).click();

    // No org yet: the home page offers to create one.
    await a.getByRole('heading', { name: 'Create your first organization' }).waitFor();
    await a.getByLabel('Organization name').fill('Acme Inspections');
    await a.getByRole('button', { name: 'Create organization' }).click();
    await a.getByRole('heading', { name: 'Overview' }).waitFor();
    await a.getByRole('figure', { name: /Sign-ins of members/ }).waitFor();
    const orgUrl = a.url();
    await expectAccessible(a, 'org overview');

    // Invite the colleague.
    await a.getByRole('link', { name: 'Members' }).click();
    await a.getByLabel('Email to invite').fill(colleague.email);
    await a.getByRole('button', { name: 'Send invitation' }).click();
    await a.getByText(`Invitation sent to ${colleague.email}.`).waitFor();
    await expectAccessible(a, 'members');
    const invitation = await mailedToken(server.t, colleague.email, /invited to join/i);

    // The colleague accepts in a browser of their own, creating their account on the way.
    const { page: b } = await open();
    await b.goto(`${server.url}/accept-invitation?token=${encodeURIComponent(invitation)}`);
    await b.getByRole('link', { name: 'Create an account' }).click();
    await b.getByLabel('Email').fill(colleague.email);
    await b.getByLabel('Password').fill(colleague.password);
    await b.getByRole('button', { name: 'Create account' }).click();
    await b.getByRole('button', { name: 'Accept invitation' }).click();
    await b.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(b.url()).toBe(orgUrl);

    // The owner makes the colleague an admin.
    await a.reload();
    const row = a.locator(`tr[data-member="${colleague.email}"]`);
    await row.getByLabel(`Role of ${colleague.email}`).selectOption('admin');
    await row.getByRole('button', { name: 'Change role' }).click();
    await expect.poll(() => row.getByLabel(`Role of ${colleague.email}`).inputValue()).toBe('admin');
    await expect.poll(() => row.getByRole('button', { name: 'Change role' }).isDisabled()).toBe(true);
    await screenshot(a, 'members');

    // The audit log shows what happened, and the chain verifies.
    await a.getByRole('link', { name: 'Audit log' }).click();
    for (const action of ['invitation.sent', 'invitation.accepted', 'member.role_changed']) {
      await a.locator(`tr[data-action="${action}"]`).first().waitFor();
    }
    await a.getByRole('button', { name: 'Verify integrity' }).click();
    await a.getByText(/Chain intact: \d+ entries verified/).waitFor();
    await a.locator('tr[data-action="member.role_changed"]').getByRole('button').click();
    await a.getByRole('region', { name: /Audit entry/ }).waitFor();
    await screenshot(a, 'audit-log');
    await expectAccessible(a, 'audit log');

    // From another device, the colleague revokes the session of their first browser...
    const { page: c } = await open();
    await c.goto(`${server.url}/sign-in`);
    await c.getByLabel('Email').fill(colleague.email);
    await c.getByLabel('Password').fill('not the password at all');
    await c.getByRole('button', { name: 'Sign in' }).click();
    await c.getByRole('alert').getByText('The email or password is not correct').waitFor();
    await c.getByLabel('Password').fill(colleague.password);
    await c.getByRole('button', { name: 'Sign in' }).click();
    await c.getByRole('heading', { name: 'Overview' }).waitFor();
    await c.goto(`${server.url}/account/sessions`);
    const other = c.locator('tbody tr').filter({ hasNot: c.getByText('this browser') });
    await expect.poll(() => other.count()).toBe(1);
    await screenshot(c, 'sessions');
    await expectAccessible(c, 'sessions');
    await other.getByRole('button', { name: 'Revoke' }).click();
    await other.getByRole('button', { name: 'Yes, revoke' }).click();
    await expect.poll(() => c.locator('tbody tr').count()).toBe(1);

    // ...which finds itself on the sign-in page, told why, at its next step.
    await b.getByRole('link', { name: 'Members' }).click();
    await b.getByRole('heading', { name: 'Sign in' }).waitFor();
    await b.getByText(/Your session has ended/).waitFor();
    await screenshot(b, 'session-ended');

    // The owner records a data-subject request; it joins the queue with its due date.
    await a.goto(`${orgUrl}/privacy`);
    await a.getByLabel('Type').selectOption('access');
    await a.getByLabel('Subject id').fill('customer-42');
    await a.getByRole('button', { name: 'Record request' }).click();
    await a.getByRole('link', { name: 'access' }).waitFor();
    await screenshot(a, 'dsr-queue');

    // The owner exports the organization and downloads the ZIP.
    await a.goto(`${orgUrl}/privacy/export`);
    const downloading = a.waitForEvent('download', { timeout: 60_000 });
    await a.getByRole('button', { name: 'Export all data' }).click();
    await a.getByTestId('export-status').waitFor();
    await screenshot(a, 'org-export');
    const file = await downloading.catch(async (error: unknown) => {
      await screenshot(a, 'failed-org-export');
      throw error;
    });
    expect(file.suggestedFilename()).toMatch(/\.zip$/);
    const zip = await file.path();
    expect(zip).toBeTruthy();

    // A dangerous settings change asks for confirmation first, in words.
    await a.goto(`${orgUrl}/settings`);
    await a.getByLabel('Two-factor authentication required for').selectOption('all');
    await a.getByRole('button', { name: 'Save settings' }).click();
    await a.getByRole('heading', { name: 'Confirm these changes' }).waitFor();
    await a.getByText('will be refused until they turn it on').waitFor();
    await screenshot(a, 'settings-confirmation');
    await a.getByRole('button', { name: 'Apply changes' }).click();
    await a.getByText('Settings saved.').waitFor();
    await expect.poll(() => a.getByLabel('Two-factor authentication required for').inputValue()).toBe('all');

    // The overview after all this: the screenshot docs/dashboard.png is taken from.
    await a.goto(orgUrl);
    await a.getByRole('figure', { name: /Sign-ins of members/ }).waitFor();
    await screenshot(a, 'dashboard');

    for (const watch of watches) expectClean(watch);
  }, 180_000);
});
