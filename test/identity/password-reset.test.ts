import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { errorCode, identityClient, mailedToken, mailsTo, NEW_PASSWORD, PASSWORD, RELAXED_LIMITS } from './support.js';
import type { IdentityClient } from './support.js';

describe('password reset', () => {
  let t: TestApp;
  let api: IdentityClient;
  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    api = identityClient(t);
  }, 60_000);
  afterAll(async () => t.close());

  const forgot = (email: string) => api.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email } });
  const reset = (token: string, password: string) => api.inject({ method: 'POST', url: '/v1/auth/password/reset', payload: { token, password } });

  it('mails a link; the token sets a new password and ends every session', async () => {
    const { id, email, tokens } = await api.account();
    const other = await api.tokens(email);

    const requested = await forgot(`  ${email.toUpperCase()} `);
    expect(requested.statusCode).toBe(202);

    const token = await mailedToken(t, email, /reset your password/i);
    const [mail] = await mailsTo(t, email);
    expect(mail?.text).toContain(`${t.config.publicUrl}/reset-password?token=`);
    expect(token.length).toBeGreaterThanOrEqual(43);

    const weak = await reset(token, 'password1234');
    expect(weak.statusCode).toBe(400);
    expect(errorCode(weak)).toBe('weak_password');

    // A refused password does not spend the token.
    const done = await reset(token, NEW_PASSWORD);
    expect(done.statusCode, done.body).toBe(204);

    for (const session of [tokens, other]) {
      expect((await api.me(session.access_token)).statusCode).toBe(401);
      expect((await api.refresh(session.refresh_token)).statusCode).toBe(401);
    }
    expect((await api.login(email, PASSWORD)).statusCode).toBe(401);
    const login = await api.login(email, NEW_PASSWORD);
    expect(login.statusCode).toBe(200);

    const actions = await t.db.database.db.selectFrom('security_events').select('action').where('principal_id', '=', id).orderBy('id').execute();
    expect(actions.map((row) => row.action)).toEqual(expect.arrayContaining(['password.reset_requested', 'password.reset']));
  });
});
