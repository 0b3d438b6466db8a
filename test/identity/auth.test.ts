import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { freshIp } from './support.js';

const PASSWORD = 'vivid otter marble lantern';
// With Redis the per-IP buckets are shared by every test file: 127.0.0.1 may be spent already.
const remoteAddress = freshIp();

describe('sign-up and sign-in', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  }, 60_000);
  afterAll(async () => t.close());

  it('signs up, signs in, reads /v1/me, refreshes and logs out', async () => {
    const signup = await t.app.inject({ remoteAddress, method: 'POST', url: '/v1/auth/signup', payload: { email: '  Alice@Example.ORG ', password: PASSWORD, name: 'Alice' } });
    expect(signup.statusCode, signup.body).toBe(201);
    expect(signup.json().user).toMatchObject({ email: 'alice@example.org', name: 'Alice', email_verified: false });
    const login = await t.app.inject({ remoteAddress, method: 'POST', url: '/v1/auth/login', payload: { email: 'ALICE@example.org', password: PASSWORD } });
    expect(login.statusCode, login.body).toBe(200);
    const tokens = login.json();
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    const me = await t.app.inject({ remoteAddress, method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json()).toMatchObject({ email: 'alice@example.org', mfa_enabled: false, orgs: [] });
    const refreshed = await t.app.inject({ remoteAddress, method: 'POST', url: '/v1/auth/token/refresh', payload: { refresh_token: tokens.refresh_token } });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const reused = await t.app.inject({ remoteAddress, method: 'POST', url: '/v1/auth/token/refresh', payload: { refresh_token: tokens.refresh_token } });
    expect(reused.statusCode).toBe(401);
    expect(reused.json().error.code).toBe('refresh_token_reused');
    const afterReuse = await t.app.inject({ remoteAddress, method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${refreshed.json().access_token}` } });
    expect(afterReuse.statusCode).toBe(401);
  });
});
