/**
 * Attacks on the second factor. The attacker already has the victim's password (the case MFA
 * exists for) and tries to finish the sign-in without the victim's authenticator: by replaying a
 * TOTP code they observed (shoulder-surfing, a phishing relay, a log), by reusing a recovery code,
 * by reusing or brute-forcing the `mfa_token` challenge of the password step, by restarting the
 * sign-in over and over for fresh guesses, or by using the challenge itself as a credential.
 * Every attempt must fail.
 */
import { describe, expect, it } from 'vitest';
import { generateTotpCode } from '../../src/identity/totp.js';
import { FakeClock } from '../helpers/clock.js';
import { errorCode, RELAXED_LIMITS, useIdentityApp } from './support.js';

const STEP = 30_000;

/** A six-digit code that matches none of the steps around `now`. */
function wrongCode(secret: string, now: Date): string {
  const valid = new Set([-STEP, 0, STEP].map((offset) => generateTotpCode(secret, new Date(now.getTime() + offset))));
  let candidate = 0;
  while (valid.has(String(candidate).padStart(6, '0'))) candidate += 1;
  return String(candidate).padStart(6, '0');
}

describe('second-factor attacks', () => {
  const clock = new FakeClock(new Date());
  const ctx = useIdentityApp(RELAXED_LIMITS, { clock });

  async function enrolledAccount() {
    const account = await ctx.api.account();
    const { secret } = (await ctx.api.as(account.tokens.access_token, 'POST', '/v1/me/mfa/totp')).json<{ secret: string }>();
    const confirmed = await ctx.api.as(account.tokens.access_token, 'POST', '/v1/me/mfa/totp/confirm', { code: generateTotpCode(secret, clock.now()) });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    clock.advance(STEP);
    return { ...account, secret, codes: confirmed.json<{ recovery_codes: string[] }>().recovery_codes };
  }

  async function challenge(email: string): Promise<string> {
    const response = await ctx.api.login(email);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ mfa_token: string }>().mfa_token;
  }

  it('refuses a TOTP code used once already, within its window and in the next step', async () => {
    const { email, secret } = await enrolledAccount();
    const code = generateTotpCode(secret, clock.now());
    expect((await ctx.api.loginMfa(await challenge(email), code)).statusCode).toBe(200);

    const replay = await ctx.api.loginMfa(await challenge(email), code);
    expect(replay.statusCode).toBe(401);
    expect(errorCode(replay)).toBe('invalid_code');
    // Still inside the ±1 step window, where the code would otherwise verify.
    clock.advance(STEP);
    expect((await ctx.api.loginMfa(await challenge(email), code)).statusCode).toBe(401);
  });

  it('refuses, for sign-in, the code that confirmed the enrolment', async () => {
    const account = await ctx.api.account();
    const { secret } = (await ctx.api.as(account.tokens.access_token, 'POST', '/v1/me/mfa/totp')).json<{ secret: string }>();
    const code = generateTotpCode(secret, clock.now());
    expect((await ctx.api.as(account.tokens.access_token, 'POST', '/v1/me/mfa/totp/confirm', { code })).statusCode).toBe(200);
    expect((await ctx.api.loginMfa(await challenge(account.email), code)).statusCode).toBe(401);
  });

  it('lets only one of two concurrent sign-ins with the same code through', async () => {
    const { email, secret } = await enrolledAccount();
    const code = generateTotpCode(secret, clock.now());
    const [a, b] = [await challenge(email), await challenge(email)];
    const results = await Promise.all([ctx.api.loginMfa(a, code), ctx.api.loginMfa(b, code)]);
    expect(results.map((response) => response.statusCode).sort()).toEqual([200, 401]);
  });

  it('refuses a recovery code used once already, and the recovery codes of another account', async () => {
    const victim = await enrolledAccount();
    const other = await enrolledAccount();
    expect((await ctx.api.loginMfa(await challenge(victim.email), victim.codes[0]!)).statusCode).toBe(200);
    const reuse = await ctx.api.loginMfa(await challenge(victim.email), victim.codes[0]!);
    expect(reuse.statusCode).toBe(401);
    expect(errorCode(reuse)).toBe('invalid_code');
    expect((await ctx.api.loginMfa(await challenge(victim.email), other.codes[0]!)).statusCode).toBe(401);
    // The other codes still work: one use spends one code.
    expect((await ctx.api.loginMfa(await challenge(victim.email), victim.codes[1]!)).statusCode).toBe(200);
  });

  it('refuses a challenge that was already used to sign in', async () => {
    const { email, secret } = await enrolledAccount();
    const token = await challenge(email);
    expect((await ctx.api.loginMfa(token, generateTotpCode(secret, clock.now()))).statusCode).toBe(200);
    clock.advance(STEP);
    const again = await ctx.api.loginMfa(token, generateTotpCode(secret, clock.now()));
    expect(again.statusCode).toBe(400);
    expect(errorCode(again)).toBe('invalid_token');
  });

  it('kills a challenge after 5 wrong codes: the right code is refused after that', async () => {
    const { email, secret } = await enrolledAccount();
    const token = await challenge(email);
    for (let i = 0; i < 5; i++) expect((await ctx.api.loginMfa(token, wrongCode(secret, clock.now()))).statusCode).toBe(401);
    // invalid_token, not the account delay's 429: the challenge itself is dead.
    const dead = await ctx.api.loginMfa(token, generateTotpCode(secret, clock.now()));
    expect(dead.statusCode).toBe(400);
    expect(errorCode(dead)).toBe('invalid_token');
  });

  // Regression: the password step cleared the account's failure count, so with the password an
  // attacker could start sign-in after sign-in for 5 fresh guesses at the code each time.
  it('counts wrong codes toward the account delay, so restarting the sign-in buys no fresh guesses', async () => {
    const { email, secret } = await enrolledAccount();
    const token = await challenge(email);
    for (let i = 0; i < 5; i++) await ctx.api.loginMfa(token, wrongCode(secret, clock.now()));
    const restarted = await ctx.api.login(email);
    expect(restarted.statusCode).toBe(429);
    expect(Number(restarted.headers['retry-after'])).toBeGreaterThanOrEqual(28);
    expect(Number(restarted.headers['retry-after'])).toBeLessThanOrEqual(30);
    expect(restarted.json()).not.toHaveProperty('mfa_token');
  });

  it('a correct code resets the count: the owner is not slowed down by their own typos', async () => {
    const { email, secret } = await enrolledAccount();
    const token = await challenge(email);
    for (let i = 0; i < 4; i++) await ctx.api.loginMfa(token, wrongCode(secret, clock.now()));
    expect((await ctx.api.loginMfa(token, generateTotpCode(secret, clock.now()))).statusCode).toBe(200);
    clock.advance(STEP);
    const next = await challenge(email);
    for (let i = 0; i < 4; i++) await ctx.api.loginMfa(next, wrongCode(secret, clock.now()));
    expect((await ctx.api.login(email)).statusCode).toBe(200);
  });

  it('refuses a challenge after its 5 minutes', async () => {
    const { email, secret } = await enrolledAccount();
    const token = await challenge(email);
    clock.advance(5 * 60_000 + 1_000);
    const response = await ctx.api.loginMfa(token, generateTotpCode(secret, clock.now()));
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_token');
  });

  it('the challenge is not a credential: it opens no route and cannot be refreshed', async () => {
    const { email } = await enrolledAccount();
    const token = await challenge(email);
    expect((await ctx.api.me(token)).statusCode).toBe(401);
    expect((await ctx.api.refresh(token)).statusCode).toBe(401);
  });
});
