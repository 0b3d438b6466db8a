/**
 * The platform console's tenants list: staff see every org's name, plan, MFA policy and MFA
 * coverage, read through a role that sees only those columns; tenant users are refused.
 */
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createPlatformStaff } from '../../src/identity/index.js';
import { generateTotpCode } from '../../src/identity/totp.js';
import { bearer, freshEmail, identityClient, useIdentityApp } from '../identity/support.js';

describe('GET /v1/platform/tenants', () => {
  const fixture = useIdentityApp();

  async function staffToken(): Promise<string> {
    const { t } = fixture;
    const staff = await createPlatformStaff(t.db.database.db, t.config.identity.argon2, { email: freshEmail('ops'), name: null });
    const login = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/login', payload: { email: staff.email, password: staff.initialPassword } });
    const mfaToken = login.json<{ mfa_token: string }>().mfa_token;
    const secret = (await t.app.inject({ method: 'POST', url: '/v1/platform/auth/mfa/enrol', payload: { mfa_token: mfaToken } })).json<{ secret: string }>().secret;
    const confirm = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/mfa/confirm', payload: { mfa_token: mfaToken, code: generateTotpCode(secret, new Date()) } });
    expect(confirm.statusCode, confirm.body).toBe(200);
    return confirm.json<{ tokens: { access_token: string } }>().tokens.access_token;
  }

  it('lists orgs with plan and MFA coverage, page by page, and nothing they store', async () => {
    const api = identityClient(fixture.t);
    const owner = await api.account();
    const created = await api.as(owner.tokens.access_token, 'POST', '/v1/orgs', { name: 'Listed GmbH' });
    expect(created.statusCode).toBe(201);
    const orgId = created.json<{ id: string }>().id;
    // The owner turns TOTP on: the org's coverage becomes 1 of 1.
    const enrol = await api.as(owner.tokens.access_token, 'POST', '/v1/me/mfa/totp');
    const confirmed = await api.as(owner.tokens.access_token, 'POST', '/v1/me/mfa/totp/confirm', { code: generateTotpCode(enrol.json<{ secret: string }>().secret, new Date()) });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const other = await api.account();
    await api.as(other.tokens.access_token, 'POST', '/v1/orgs', { name: 'Other AG' });

    const token = await staffToken();
    const all: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    do {
      const page: LightMyRequestResponse = await fixture.t.app.inject({ method: 'GET', url: `/v1/platform/tenants?limit=1${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(token) });
      expect(page.statusCode, page.body).toBe(200);
      const body: { data: Array<Record<string, unknown>>; next_cursor: string | null } = page.json();
      expect(body.data.length).toBeLessThanOrEqual(1);
      all.push(...body.data);
      cursor = body.next_cursor;
    } while (cursor);
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(new Set(all.map((tenant) => tenant.id)).size).toBe(all.length);
    const listed = all.find((tenant) => tenant.id === orgId);
    expect(listed).toEqual({ id: orgId, name: 'Listed GmbH', plan: 'free', mfa_required_for: 'none', created_at: expect.any(String), members: 1, members_with_mfa: 1 });
  });

  it('refuses tenant users, anonymous callers and malformed cursors', async () => {
    const api = identityClient(fixture.t);
    const user = await api.account(freshEmail('tenant'));
    expect((await api.as(user.tokens.access_token, 'GET', '/v1/platform/tenants')).statusCode).toBe(401);
    expect((await fixture.t.app.inject({ method: 'GET', url: '/v1/platform/tenants' })).statusCode).toBe(401);
    const token = await staffToken();
    const bad = await fixture.t.app.inject({ method: 'GET', url: '/v1/platform/tenants?cursor=1%27%20or%201=1', headers: bearer(token) });
    expect(bad.statusCode).toBe(400);
    const huge = await fixture.t.app.inject({ method: 'GET', url: '/v1/platform/tenants?limit=100000', headers: bearer(token) });
    expect(huge.statusCode).toBe(400);
  });
});
