/**
 * Attacks on password reset. A reset link is a bearer credential for the account, so an attacker
 * who finds an old one (in a mailbox, a proxy log, a browser history) tries to use it after it
 * expired, after it was used, or after a newer one was used; tries to learn which addresses have
 * accounts from the answer to "forgot password"; and, holding a victim's mailbox, tries to use
 * the reset to get around the victim's second factor. Every attempt must fail.
 */
import { describe, expect, it } from 'vitest';
import { generateTotpCode } from '../../src/identity/totp.js';
import { FakeClock } from '../helpers/clock.js';
import { drainJobs, errorCode, freshEmail, mailedToken, mailsTo, NEW_PASSWORD, RELAXED_LIMITS, useIdentityApp } from './support.js';

const HOUR = 3_600_000;
const OTHER_PASSWORD = 'amber glacier violin meadow';

describe('password reset attacks', () => {
  const clock = new FakeClock(new Date());
  const ctx = useIdentityApp(RELAXED_LIMITS, { clock });

  const forgot = (email: string) => ctx.api.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email } });
  const reset = (token: string, password = NEW_PASSWORD) => ctx.api.inject({ method: 'POST', url: '/v1/auth/password/reset', payload: { token, password } });

  async function resetToken(email: string): Promise<string> {
    expect((await forgot(email)).statusCode).toBe(202);
    return mailedToken(ctx.t, email, /reset your password/i);
  }

  it('refuses a reset token after its hour', async () => {
    const { email } = await ctx.api.account();
    const token = await resetToken(email);
    clock.advance(HOUR + 1_000);
    const response = await reset(token);
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_token');
  });

  it('refuses a reset token used once already', async () => {
    const { email } = await ctx.api.account();
    const token = await resetToken(email);
    expect((await reset(token)).statusCode).toBe(204);
    const again = await reset(token, OTHER_PASSWORD);
    expect(again.statusCode).toBe(400);
    expect(errorCode(again)).toBe('invalid_token');
    expect((await ctx.api.login(email, OTHER_PASSWORD)).statusCode).toBe(401);
  });

  // Regression: using one reset link left every other outstanding link for the account valid.
  it('refuses an older reset link once a newer one was used', async () => {
    const { email } = await ctx.api.account();
    const older = await resetToken(email);
    const newer = await resetToken(email);
    expect(newer).not.toBe(older);
    expect((await reset(newer)).statusCode).toBe(204);
    const response = await reset(older, OTHER_PASSWORD);
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_token');
  });

  it('refuses a token made for another purpose (email verification) as a reset token', async () => {
    const { email } = await ctx.api.account();
    const verification = await mailedToken(ctx.t, email, /confirm your email/i);
    const response = await reset(verification);
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_token');
  });

  it('answers forgot identically for known and unknown addresses, and mails nothing for an unknown one', async () => {
    const { email } = await ctx.api.account();
    const unknown = freshEmail('nobody');
    const known = await forgot(email);
    const missing = await forgot(unknown);
    expect(known.statusCode).toBe(202);
    expect(missing.statusCode).toBe(202);
    expect(missing.body).toBe(known.body);
    const headerNames = (response: typeof known) => Object.keys(response.headers).sort();
    expect(headerNames(missing)).toEqual(headerNames(known));

    await drainJobs(ctx.t);
    expect((await mailsTo(ctx.t, email)).filter((mail) => /reset/i.test(mail.subject))).toHaveLength(1);
    expect(await mailsTo(ctx.t, unknown)).toEqual([]);
    // Nothing about the unknown address is kept beyond the finished job.
    const tokens = await ctx.t.db.database.db.selectFrom('one_time_tokens').select('token_hash').where('principal_id', 'is', null).execute();
    expect(tokens).toEqual([]);
  });

  it('does not get around MFA: after a reset, sign-in still asks for the second factor', async () => {
    const { email, tokens } = await ctx.api.account();
    const { secret } = (await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp')).json<{ secret: string }>();
    expect((await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp/confirm', { code: generateTotpCode(secret, clock.now()) })).statusCode).toBe(200);

    const token = await resetToken(email);
    const done = await reset(token);
    expect(done.statusCode).toBe(204);
    expect(done.body).toBe('');
    const login = await ctx.api.login(email, NEW_PASSWORD);
    expect(login.statusCode).toBe(200);
    expect(login.json()).toEqual({ mfa_required: true, mfa_token: expect.any(String) });
  });
});
