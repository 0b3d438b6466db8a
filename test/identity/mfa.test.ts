import { describe, expect, it } from 'vitest';
import { generateTotpCode } from '../../src/identity/totp.js';
import { FakeClock } from '../helpers/clock.js';
import { decodeJwt, errorCode, PASSWORD, RELAXED_LIMITS, useIdentityApp } from './support.js';
import type { Tokens } from './support.js';

const STEP = 30_000;

describe('TOTP two-factor authentication', () => {
  const clock = new FakeClock(new Date());
  const ctx = useIdentityApp(RELAXED_LIMITS, { clock });

  it('enrols (inactive until confirmed), confirms with a code, then sign-in takes two steps', async () => {
    const { id, email, tokens } = await ctx.api.account();

    const started = await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp');
    expect(started.statusCode, started.body).toBe(200);
    const { secret, otpauth_uri: uri, qr_svg: svg } = started.json<{ secret: string; otpauth_uri: string; qr_svg: string }>();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const parsed = new URL(uri);
    expect(parsed.protocol).toBe('otpauth:');
    expect(parsed.host).toBe('totp');
    expect(decodeURIComponent(parsed.pathname)).toBe(`/Rampart:${email}`);
    expect(Object.fromEntries(parsed.searchParams)).toMatchObject({ secret, issuer: 'Rampart', algorithm: 'SHA1', digits: '6', period: '30' });
    expect(svg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);

    // Not active yet: the profile says so and sign-in is still one step.
    expect((await ctx.api.me(tokens.access_token)).json().mfa_enabled).toBe(false);
    expect((await ctx.api.login(email)).json()).toHaveProperty('access_token');

    const wrong = await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp/confirm', { code: wrongCode(generateTotpCode(secret, clock.now())) });
    expect(wrong.statusCode).toBe(401);
    expect(errorCode(wrong)).toBe('invalid_code');

    const confirmed = await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp/confirm', { code: generateTotpCode(secret, clock.now()) });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const codes = confirmed.json<{ recovery_codes: string[] }>().recovery_codes;
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    expect((await ctx.api.me(tokens.access_token)).json().mfa_enabled).toBe(true);

    const again = await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp');
    expect(again.statusCode).toBe(409);
    expect(errorCode(again)).toBe('mfa_already_enabled');

    const first = await ctx.api.login(email);
    expect(first.statusCode).toBe(200);
    expect(Object.keys(first.json()).sort()).toEqual(['mfa_required', 'mfa_token']);
    expect(first.json().mfa_required).toBe(true);

    clock.advance(STEP);
    const second = await ctx.api.loginMfa(first.json().mfa_token, generateTotpCode(secret, clock.now()));
    expect(second.statusCode, second.body).toBe(200);
    const signedIn = second.json<Tokens>();
    expect(decodeJwt(signedIn.access_token)).toMatchObject({ sub: id, amr: ['pwd', 'otp'] });
    expect((await ctx.api.me(signedIn.access_token)).statusCode).toBe(200);

    const events = (await ctx.api.as(signedIn.access_token, 'GET', '/v1/me/security-events')).json<{ data: Array<{ action: string; metadata: Record<string, unknown> }> }>().data;
    expect(events[0]).toMatchObject({ action: 'auth.login.succeeded', metadata: { amr: ['pwd', 'otp'] } });
    expect(events.map((event) => event.action)).toContain('mfa.enrolled');
  });

  it('accepts a recovery code as the second step, however it is typed, and audits its use', async () => {
    const { email, codes } = await enrolledAccount();
    const challenge = (await ctx.api.login(email)).json<{ mfa_token: string }>().mfa_token;
    const typed = ` ${codes[3]!.toUpperCase().replace('-', ' ')} `;
    const response = await ctx.api.loginMfa(challenge, typed);
    expect(response.statusCode, response.body).toBe(200);
    const tokens = response.json<Tokens>();
    expect(decodeJwt(tokens.access_token).amr).toEqual(['pwd', 'otp']);
    const actions = (await ctx.api.as(tokens.access_token, 'GET', '/v1/me/security-events')).json<{ data: Array<{ action: string }> }>().data.map((event) => event.action);
    expect(actions.slice(0, 2)).toEqual(['auth.login.succeeded', 'mfa.recovery_code_used']);
  });

  it('restarting an unconfirmed enrolment replaces the secret; the old one no longer confirms', async () => {
    const { tokens } = await ctx.api.account();
    const first = (await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp')).json<{ secret: string }>().secret;
    const second = (await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp')).json<{ secret: string }>().secret;
    expect(second).not.toBe(first);
    const stale = await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp/confirm', { code: generateTotpCode(first, clock.now()) });
    expect(stale.statusCode).toBe(401);
    const fresh = await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp/confirm', { code: generateTotpCode(second, clock.now()) });
    expect(fresh.statusCode).toBe(200);
  });

  it('disables TOTP only with the password; sign-in is then one step again', async () => {
    const { email, tokens } = await enrolledAccount();
    const wrong = await ctx.api.as(tokens.access_token, 'DELETE', '/v1/me/mfa/totp', { password: 'not the password at all' });
    expect(wrong.statusCode).toBe(403);
    expect(errorCode(wrong)).toBe('step_up_required');
    expect((await ctx.api.login(email)).json().mfa_required).toBe(true);

    const disabled = await ctx.api.as(tokens.access_token, 'DELETE', '/v1/me/mfa/totp', { password: PASSWORD });
    expect(disabled.statusCode, disabled.body).toBe(204);
    expect((await ctx.api.me(tokens.access_token)).json().mfa_enabled).toBe(false);
    const login = await ctx.api.login(email);
    expect(login.json()).toHaveProperty('access_token');
    expect(decodeJwt(login.json<Tokens>().access_token).amr).toEqual(['pwd']);

    const twice = await ctx.api.as(tokens.access_token, 'DELETE', '/v1/me/mfa/totp', { password: PASSWORD });
    expect(twice.statusCode).toBe(409);
    expect(errorCode(twice)).toBe('mfa_not_enrolled');
  });

  it('refuses a confirmation when no enrolment was started', async () => {
    const { tokens } = await ctx.api.account();
    const response = await ctx.api.as(tokens.access_token, 'POST', '/v1/me/mfa/totp/confirm', { code: '123456' });
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe('invalid_code');
  });

  /** An account with TOTP on, signed in (before enrolment), with its secret and recovery codes. */
  async function enrolledAccount() {
    const account = await ctx.api.account();
    const { secret } = (await ctx.api.as(account.tokens.access_token, 'POST', '/v1/me/mfa/totp')).json<{ secret: string }>();
    const confirmed = await ctx.api.as(account.tokens.access_token, 'POST', '/v1/me/mfa/totp/confirm', { code: generateTotpCode(secret, clock.now()) });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    // The confirming code's step is spent; move on so the next code is a new one.
    clock.advance(STEP);
    return { ...account, secret, codes: confirmed.json<{ recovery_codes: string[] }>().recovery_codes };
  }
});

/** A six-digit code that is not `code`. */
function wrongCode(code: string): string {
  return String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
}
