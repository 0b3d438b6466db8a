/**
 * A stolen access token must not be enough for the actions that make theft permanent: turning MFA
 * off, enrolling the thief's own authenticator, deleting the account. Those need the password or a
 * sign-in within the last 10 minutes. And the password check itself must not become an unlimited
 * guessing oracle for the token holder: wrong answers count toward the account's sign-in delay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { errorCode, freshEmail, identityClient, mailedToken, PASSWORD, RELAXED_LIMITS } from './support.js';
import type { IdentityClient } from './support.js';

const ELEVEN_MINUTES = 11 * 60_000;

describe('step-up for sensitive actions', () => {
  const clock = new FakeClock('2026-11-23T09:00:00Z');
  let t: TestApp;
  let api: IdentityClient;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS, { clock });
    api = identityClient(t);
  }, 60_000);
  afterAll(async () => t.close());

  it('accepts a recent sign-in alone, and asks for the password once it is older than 10 minutes', async () => {
    const { tokens } = await api.account();
    expect((await api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp')).statusCode).toBe(200);
    clock.advance(ELEVEN_MINUTES);
    const refreshed = (await api.refresh(tokens.refresh_token)).json<{ access_token: string }>();
    const late = await api.as(refreshed.access_token, 'POST', '/v1/me/mfa/totp');
    expect(late.statusCode).toBe(403);
    expect(errorCode(late)).toBe('step_up_required');
    const deletion = await api.as(refreshed.access_token, 'DELETE', '/v1/me', {});
    expect(errorCode(deletion)).toBe('step_up_required');
    const withPassword = await api.as(refreshed.access_token, 'DELETE', '/v1/me', { password: PASSWORD });
    expect(withPassword.statusCode, withPassword.body).toBe(202);
  });

  it('throttles wrong step-up passwords like wrong sign-ins, and records them', async () => {
    const { id, email, tokens } = await api.account();
    for (let attempt = 0; attempt < 5; attempt++) {
      const wrong = await api.as(tokens.access_token, 'POST', '/v1/me/password', { current_password: `wrong guess ${attempt}`, new_password: 'quiet harbour copper falcon' });
      expect(errorCode(wrong)).toBe('step_up_required');
    }
    const throttled = await api.as(tokens.access_token, 'POST', '/v1/me/password', { current_password: PASSWORD, new_password: 'quiet harbour copper falcon' });
    expect(throttled.statusCode).toBe(429);
    // The same delay guards the sign-in form for that account.
    expect((await api.login(email)).statusCode).toBe(429);
    const failures = await t.db.database.db
      .selectFrom('security_events')
      .select('metadata')
      .where('principal_id', '=', id)
      .where('action', '=', 'auth.login.failed')
      .execute();
    expect(failures.filter((row) => (row.metadata as { reason?: string }).reason === 'step_up_wrong_password')).toHaveLength(5);
  });

  it('voids pending reset links when the password is changed', async () => {
    const email = freshEmail();
    const { tokens } = await api.account(email);
    await api.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email } });
    const link = await mailedToken(t, email, /reset/i);
    const changed = await api.as(tokens.access_token, 'POST', '/v1/me/password', { current_password: PASSWORD, new_password: 'quiet harbour copper falcon' });
    expect(changed.statusCode, changed.body).toBe(204);
    const reset = await api.inject({ method: 'POST', url: '/v1/auth/password/reset', payload: { token: link, password: 'amber meadow silent river' } });
    expect(reset.statusCode).toBe(400);
    expect(errorCode(reset)).toBe('invalid_token');
  });
});
