import { describe, expect, it } from 'vitest';
import { FakeClock } from '../helpers/clock.js';
import { decodeJwt, drainJobs, errorCode, freshEmail, NEW_PASSWORD, PASSWORD, RELAXED_LIMITS, useIdentityApp } from './support.js';
import type { Tokens } from './support.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

describe('sessions and the signed-in account', () => {
  const clock = new FakeClock(new Date());
  const ctx = useIdentityApp(RELAXED_LIMITS, { clock });

  it('signs in with tokens whose claims name the user, the session and the method', async () => {
    const { id, email } = await ctx.api.account();
    const response = await ctx.api.login(email.toUpperCase());
    expect(response.statusCode).toBe(200);
    const tokens = response.json<Tokens>();
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const header = JSON.parse(Buffer.from(tokens.access_token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    expect(header.kid).toEqual(expect.any(String));
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ sub: id, aud: 'rampart', iss: ctx.t.config.publicUrl, amr: ['pwd'] });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(900);
    expect(claims.sid).toEqual(expect.any(String));
  });

  it('refreshes into a new pair on the same session; the new access token works', async () => {
    const { tokens } = await ctx.api.account();
    const refreshed = await ctx.api.refresh(tokens.refresh_token);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const next = refreshed.json<Tokens>();
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect(decodeJwt(next.access_token).sid).toBe(decodeJwt(tokens.access_token).sid);
    expect((await ctx.api.me(next.access_token)).statusCode).toBe(200);
    // The rotated token works in turn.
    expect((await ctx.api.refresh(next.refresh_token)).statusCode).toBe(200);
  });

  it('refuses an unknown refresh token with 401', async () => {
    const response = await ctx.api.refresh('B'.repeat(43));
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe('unauthenticated');
  });

  it('ends a session idle for longer than the idle timeout', async () => {
    const { tokens } = await ctx.api.account();
    clock.advance(7 * DAY + MINUTE);
    const response = await ctx.api.refresh(tokens.refresh_token);
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe('unauthenticated');
  });

  it('logs out: 204, then neither the access nor the refresh token works', async () => {
    const { tokens } = await ctx.api.account();
    const logout = await ctx.api.as(tokens.access_token, 'POST', '/v1/auth/logout');
    expect(logout.statusCode, logout.body).toBe(204);
    expect((await ctx.api.me(tokens.access_token)).statusCode).toBe(401);
    expect((await ctx.api.refresh(tokens.refresh_token)).statusCode).toBe(401);
  });

  it('reads and corrects the profile (PATCH /v1/me)', async () => {
    const { id, email, tokens } = await ctx.api.account();
    const me = await ctx.api.me(tokens.access_token);
    expect(me.json()).toEqual({ id, email, name: null, email_verified: false, mfa_enabled: false, orgs: [] });

    const renamed = await ctx.api.as(tokens.access_token, 'PATCH', '/v1/me', { name: '  Grace Hopper ' });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json()).toMatchObject({ id, email, name: 'Grace Hopper' });
    expect((await ctx.api.me(tokens.access_token)).json().name).toBe('Grace Hopper');

    const tooLong = await ctx.api.as(tokens.access_token, 'PATCH', '/v1/me', { name: 'x'.repeat(201) });
    expect(tooLong.statusCode).toBe(400);
    const notAllowed = await ctx.api.as(tokens.access_token, 'PATCH', '/v1/me', { name: 'x', email: 'other@customer.test' });
    expect(notAllowed.statusCode).toBe(400);
  });

  it('refuses /v1/me without a token', async () => {
    const response = await ctx.api.inject({ method: 'GET', url: '/v1/me' });
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe('unauthenticated');
  });

  it('changes the password: other sessions end, the current token must be refreshed, the old password stops working', async () => {
    const { email, tokens: current } = await ctx.api.account();
    const other = await ctx.api.tokens(email);

    const wrong = await ctx.api.as(current.access_token, 'POST', '/v1/me/password', { current_password: 'not the password at all', new_password: NEW_PASSWORD });
    expect(wrong.statusCode).toBe(403);
    expect(errorCode(wrong)).toBe('step_up_required');
    const weak = await ctx.api.as(current.access_token, 'POST', '/v1/me/password', { current_password: PASSWORD, new_password: 'password1234' });
    expect(weak.statusCode).toBe(400);
    expect(errorCode(weak)).toBe('weak_password');

    const changed = await ctx.api.as(current.access_token, 'POST', '/v1/me/password', { current_password: PASSWORD, new_password: NEW_PASSWORD });
    expect(changed.statusCode, changed.body).toBe(204);

    const stale = await ctx.api.me(current.access_token);
    expect(stale.statusCode).toBe(401);
    expect(errorCode(stale)).toBe('token_expired');
    const refreshed = await ctx.api.refresh(current.refresh_token);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect((await ctx.api.me(refreshed.json<Tokens>().access_token)).statusCode).toBe(200);

    expect((await ctx.api.me(other.access_token)).statusCode).toBe(401);
    expect((await ctx.api.refresh(other.refresh_token)).statusCode).toBe(401);

    expect((await ctx.api.login(email, PASSWORD)).statusCode).toBe(401);
    expect((await ctx.api.login(email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('lists sessions with the current one marked, revokes one, then every other', async () => {
    const email = freshEmail();
    expect((await ctx.api.signup(email)).statusCode).toBe(201);
    const first = await ctx.api.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: PASSWORD }, remoteAddress: '192.0.2.10', headers: { 'user-agent': 'Laptop/1.0' } });
    const a = first.json<Tokens>();
    const b = await ctx.api.tokens(email);
    const c = await ctx.api.tokens(email);

    const listed = await ctx.api.as(a.access_token, 'GET', '/v1/me/sessions');
    expect(listed.statusCode, listed.body).toBe(200);
    const sessions = listed.json<{ data: Array<Record<string, unknown>> }>().data;
    expect(sessions).toHaveLength(3);
    const mine = sessions.find((session) => session.current);
    expect(mine).toMatchObject({ id: decodeJwt(a.access_token).sid, ip: '192.0.2.10', user_agent: 'Laptop/1.0' });
    expect(mine?.created_at).toEqual(expect.any(String));
    expect(mine?.last_used_at).toEqual(expect.any(String));
    expect(sessions.filter((session) => session.current)).toHaveLength(1);

    const revokeB = await ctx.api.as(a.access_token, 'DELETE', `/v1/me/sessions/${String(decodeJwt(b.access_token).sid)}`);
    expect(revokeB.statusCode, revokeB.body).toBe(204);
    expect((await ctx.api.me(b.access_token)).statusCode).toBe(401);
    expect((await ctx.api.refresh(b.refresh_token)).statusCode).toBe(401);
    expect((await ctx.api.me(c.access_token)).statusCode).toBe(200);

    const revokeOthers = await ctx.api.as(a.access_token, 'DELETE', '/v1/me/sessions');
    expect(revokeOthers.statusCode, revokeOthers.body).toBe(204);
    expect((await ctx.api.me(c.access_token)).statusCode).toBe(401);
    expect((await ctx.api.me(a.access_token)).statusCode).toBe(200);
    const after = (await ctx.api.as(a.access_token, 'GET', '/v1/me/sessions')).json<{ data: unknown[] }>().data;
    expect(after).toHaveLength(1);
  });

  it("answers 404 for a session that is not the caller's, and leaves it alone", async () => {
    const alice = await ctx.api.account();
    const mallory = await ctx.api.account();
    const response = await ctx.api.as(mallory.tokens.access_token, 'DELETE', `/v1/me/sessions/${String(decodeJwt(alice.tokens.access_token).sid)}`);
    expect(response.statusCode).toBe(404);
    expect((await ctx.api.me(alice.tokens.access_token)).statusCode).toBe(200);
    expect((await ctx.api.as(mallory.tokens.access_token, 'DELETE', '/v1/me/sessions/not-a-uuid')).statusCode).toBe(400);
  });

  it("lists the caller's own security events, newest first, and no one else's", async () => {
    const { email, tokens } = await ctx.api.account();
    await ctx.api.login(email, 'not the password at all');
    const other = await ctx.api.account();
    const response = await ctx.api.as(tokens.access_token, 'GET', '/v1/me/security-events');
    expect(response.statusCode, response.body).toBe(200);
    const events = response.json<{ data: Array<{ action: string; at: string }> }>().data;
    expect(events.map((event) => event.action)).toEqual(['auth.login.failed', 'auth.login.succeeded', 'auth.signup']);
    const limited = await ctx.api.as(tokens.access_token, 'GET', '/v1/me/security-events?limit=1');
    expect(limited.json().data).toHaveLength(1);
    const othersEvents = (await ctx.api.as(other.tokens.access_token, 'GET', '/v1/me/security-events')).json<{ data: Array<{ action: string }> }>().data;
    expect(othersEvents.map((event) => event.action)).toEqual(['auth.login.succeeded', 'auth.signup']);
  });

  it('exports the personal data held about the caller', async () => {
    const { id, email, tokens } = await ctx.api.account();
    await ctx.api.as(tokens.access_token, 'PATCH', '/v1/me', { name: 'Export Me' });
    const response = await ctx.api.as(tokens.access_token, 'GET', '/v1/me/export');
    expect(response.statusCode, response.body).toBe(200);
    const data = response.json();
    expect(data.user).toMatchObject({ id, email, name: 'Export Me' });
    expect(data.mfa_enabled).toBe(false);
    expect(data.sessions).toHaveLength(1);
    expect(data.sessions[0]).toMatchObject({ id: decodeJwt(tokens.access_token).sid });
    expect(data.security_events.map((event: { action: string }) => event.action)).toEqual(['auth.signup', 'auth.login.succeeded']);
    expect(data.external_identities).toEqual([]);
    // Secrets are not personal data to hand out: no hashes of any kind.
    expect(response.body).not.toMatch(/password_hash|token_hash|argon2/);
  });

  it('deletes the account: inaccessible at once, purged by the job after the grace period', async () => {
    const { id, email, tokens } = await ctx.api.account();
    const other = await ctx.api.tokens(email);

    const wrong = await ctx.api.as(tokens.access_token, 'DELETE', '/v1/me', { password: 'not the password at all' });
    expect(wrong.statusCode).toBe(403);
    expect((await ctx.api.me(tokens.access_token)).statusCode).toBe(200);

    const deleted = await ctx.api.as(tokens.access_token, 'DELETE', '/v1/me', { password: PASSWORD });
    expect(deleted.statusCode, deleted.body).toBe(202);
    expect(deleted.json()).toEqual({ status: 'deletion_scheduled', purge_after: new Date(clock.now().getTime() + 30 * DAY).toISOString() });

    expect((await ctx.api.me(tokens.access_token)).statusCode).toBe(401);
    expect((await ctx.api.me(other.access_token)).statusCode).toBe(401);
    expect((await ctx.api.refresh(other.refresh_token)).statusCode).toBe(401);
    const login = await ctx.api.login(email);
    expect(login.statusCode).toBe(401);
    expect(errorCode(login)).toBe('invalid_credentials');

    const db = ctx.t.db.database.db;
    const userRow = () => db.selectFrom('users').select(['id', 'status']).where('id', '=', id).executeTakeFirst();
    await drainJobs(ctx.t);
    expect(await userRow()).toEqual({ id, status: 'deleted' });

    clock.advance(30 * DAY + MINUTE);
    await drainJobs(ctx.t);
    expect(await userRow()).toBeUndefined();
    const sessions = await db.selectFrom('sessions').select('id').where('principal_id', '=', id).execute();
    expect(sessions).toEqual([]);
    const events = await db.selectFrom('security_events').select('id').where('principal_id', '=', id).execute();
    expect(events).toEqual([]);
  });

});
