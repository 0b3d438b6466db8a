import { describe, expect, it } from 'vitest';
import { errorCode, mailedToken, mailsTo, NEW_PASSWORD, PASSWORD, useIdentityApp } from './support.js';

describe('password reset', () => {
  const ctx = useIdentityApp();

  const forgot = (email: string) => ctx.api.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email } });
  const reset = (token: string, password: string) => ctx.api.inject({ method: 'POST', url: '/v1/auth/password/reset', payload: { token, password } });

  it('mails a link; the token sets a new password and ends every session', async () => {
    const { id, email, tokens } = await ctx.api.account();
    const other = await ctx.api.tokens(email);

    const requested = await forgot(`  ${email.toUpperCase()} `);
    expect(requested.statusCode).toBe(202);

    const token = await mailedToken(ctx.t, email, /reset your password/i);
    const [mail] = await mailsTo(ctx.t, email);
    expect(mail?.text).toContain(`${ctx.t.config.publicUrl}/reset-password?token=`);
    expect(token.length).toBeGreaterThanOrEqual(43);

    const weak = await reset(token, 'password1234');
    expect(weak.statusCode).toBe(400);
    expect(errorCode(weak)).toBe('weak_password');

    // A refused password does not spend the token.
    const done = await reset(token, NEW_PASSWORD);
    expect(done.statusCode, done.body).toBe(204);

    for (const session of [tokens, other]) {
      expect((await ctx.api.me(session.access_token)).statusCode).toBe(401);
      expect((await ctx.api.refresh(session.refresh_token)).statusCode).toBe(401);
    }
    expect((await ctx.api.login(email, PASSWORD)).statusCode).toBe(401);
    const login = await ctx.api.login(email, NEW_PASSWORD);
    expect(login.statusCode).toBe(200);

    const actions = await ctx.t.db.database.db.selectFrom('security_events').select('action').where('principal_id', '=', id).orderBy('id').execute();
    expect(actions.map((row) => row.action)).toEqual(expect.arrayContaining(['password.reset_requested', 'password.reset']));
  });
});
