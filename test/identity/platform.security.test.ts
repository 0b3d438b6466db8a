/**
 * Platform staff can see across tenants, so their realm is fenced off: accounts exist only through
 * `rampart admin create`, the first session needs TOTP enrolled, and a token of one realm (or its
 * refresh token) is refused in the other. These tests try to sign in without enrolling, to use an
 * enrolment challenge as a second factor, and to cross the realm boundary both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlatformStaff, disablePlatformStaff } from '../../src/identity/index.js';
import { generateTotpCode } from '../../src/identity/totp.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { bearer, freshEmail, identityClient, RELAXED_LIMITS } from './support.js';

describe('platform realm', () => {
  const clock = new FakeClock('2026-11-23T10:00:00Z');
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS, { clock });
  }, 60_000);
  afterAll(async () => t.close());

  async function staffWithTotp() {
    const staff = await createPlatformStaff(t.db.database.db, t.config.identity.argon2, { email: freshEmail('ops'), name: 'Ops' });
    const login = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/login', payload: { email: staff.email, password: staff.initialPassword } });
    expect(login.statusCode, login.body).toBe(200);
    expect(login.json()).toEqual({ mfa_required: true, mfa_token: expect.any(String), mfa_enrolment_required: true });
    const mfaToken = login.json().mfa_token as string;
    const enrol = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/mfa/enrol', payload: { mfa_token: mfaToken } });
    expect(enrol.statusCode, enrol.body).toBe(200);
    const secret = enrol.json().secret as string;
    const confirm = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/mfa/confirm', payload: { mfa_token: mfaToken, code: generateTotpCode(secret, clock.now()) } });
    expect(confirm.statusCode, confirm.body).toBe(200);
    expect(confirm.json().recovery_codes).toHaveLength(10);
    return { staff, secret, mfaToken, tokens: confirm.json().tokens as { access_token: string; refresh_token: string } };
  }

  it('requires TOTP enrolment before the first session, then a second factor at every sign-in', async () => {
    const { staff, secret, tokens } = await staffWithTotp();
    const me = await t.app.inject({ method: 'GET', url: '/v1/platform/me', headers: bearer(tokens.access_token) });
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json()).toEqual({ id: staff.id, email: staff.email, name: 'Ops' });

    clock.advance(30_000);
    const login = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/login', payload: { email: staff.email, password: staff.initialPassword } });
    expect(login.json()).toEqual({ mfa_required: true, mfa_token: expect.any(String) });
    const second = await t.app.inject({
      method: 'POST',
      url: '/v1/platform/auth/login/mfa',
      payload: { mfa_token: login.json().mfa_token, code: generateTotpCode(secret, clock.now()) },
    });
    expect(second.statusCode, second.body).toBe(200);
  });

  it('does not accept an enrolment challenge as a second factor, nor reuse it after enrolment', async () => {
    const staff = await createPlatformStaff(t.db.database.db, t.config.identity.argon2, { email: freshEmail('ops'), name: null });
    const login = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/login', payload: { email: staff.email, password: staff.initialPassword } });
    const mfaToken = login.json().mfa_token as string;
    const guess = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/login/mfa', payload: { mfa_token: mfaToken, code: '123456' } });
    expect(guess.statusCode).toBe(401);
    const { mfaToken: spent } = await staffWithTotp();
    const replay = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/mfa/enrol', payload: { mfa_token: spent } });
    expect(replay.statusCode).toBe(400);
    expect(replay.json().error.code).toBe('invalid_token');
  });

  it('refuses a platform token on tenant routes and a tenant token on platform routes', async () => {
    const { tokens } = await staffWithTotp();
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(tokens.access_token) })).statusCode).toBe(401);

    const api = identityClient(t);
    const email = freshEmail();
    expect((await api.signup(email)).statusCode).toBe(201);
    const user = (await api.login(email)).json() as { access_token: string; refresh_token: string };
    expect((await t.app.inject({ method: 'GET', url: '/v1/platform/me', headers: bearer(user.access_token) })).statusCode).toBe(401);
    // Staff cannot sign in at the tenant endpoint, nor users at the platform one.
    expect((await api.login(freshEmail('nobody'))).statusCode).toBe(401);
    const crossLogin = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/login', payload: { email, password: 'vivid otter marble lantern' } });
    expect(crossLogin.statusCode).toBe(401);
    expect(crossLogin.json().error.code).toBe('invalid_credentials');
  });

  it('refuses a refresh token at the other realm’s endpoint', async () => {
    const { tokens } = await staffWithTotp();
    const atUser = await t.app.inject({ method: 'POST', url: '/v1/auth/token/refresh', payload: { refresh_token: tokens.refresh_token } });
    expect(atUser.statusCode).toBe(401);
    // Refused there without being spent: it still works where it belongs.
    const atPlatform = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/token/refresh', payload: { refresh_token: tokens.refresh_token } });
    expect(atPlatform.statusCode, atPlatform.body).toBe(200);
  });

  it('locks a disabled staff member out at once: tokens, refresh and sign-in', async () => {
    const { staff, tokens } = await staffWithTotp();
    const result = await disablePlatformStaff(t.db.database.db, staff.email, clock.now());
    expect(result.sessionsRevoked).toBe(1);
    expect((await t.app.inject({ method: 'GET', url: '/v1/platform/me', headers: bearer(tokens.access_token) })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'POST', url: '/v1/platform/auth/token/refresh', payload: { refresh_token: tokens.refresh_token } })).statusCode).toBe(401);
    const login = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/login', payload: { email: staff.email, password: staff.initialPassword } });
    expect(login.statusCode).toBe(401);
    expect(login.json().error.code).toBe('invalid_credentials');
  });

  it('creates staff only once per email, and only through the command (no HTTP route creates staff)', async () => {
    const email = freshEmail('ops');
    await createPlatformStaff(t.db.database.db, t.config.identity.argon2, { email, name: null });
    await expect(createPlatformStaff(t.db.database.db, t.config.identity.argon2, { email: email.toUpperCase(), name: null })).rejects.toThrow(/already exists/);
    const spec = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths).filter((path) => path.startsWith('/v1/platform')).sort()).toEqual([
      '/v1/platform/auth/login',
      '/v1/platform/auth/login/mfa',
      '/v1/platform/auth/logout',
      '/v1/platform/auth/mfa/confirm',
      '/v1/platform/auth/mfa/enrol',
      '/v1/platform/auth/token/refresh',
      '/v1/platform/backups/drills',
      '/v1/platform/me',
      '/v1/platform/tenants',
    ]);
  });
});
