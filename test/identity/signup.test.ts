import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { errorCode, freshEmail, identityClient, mailedToken, PASSWORD, RELAXED_LIMITS } from './support.js';
import type { IdentityClient } from './support.js';

describe('sign-up', () => {
  let t: TestApp;
  let api: IdentityClient;
  const clock = new FakeClock(new Date());
  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS, { clock });
    api = identityClient(t);
  }, 60_000);
  afterAll(async () => t.close());

  it('stores the address trimmed, NFKC-normalized and lower-cased, and refuses a look-alike duplicate with 409', async () => {
    const local = freshEmail('norm').split('@')[0]!;
    // Fullwidth letters (U+FF21...) collapse to ASCII under NFKC.
    const fullwidth = [...local.toUpperCase()].map((c) => (/[A-Z]/.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c)).join('');
    const created = await api.signup(`  ${fullwidth}@Customer.TEST `, PASSWORD, '  Ada Lovelace ');
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().user).toMatchObject({ email: `${local}@customer.test`, name: 'Ada Lovelace', email_verified: false });
    expect(created.json().user.id).toMatch(/^[0-9a-f-]{36}$/);

    const duplicate = await api.signup(`${local.toUpperCase()}@CUSTOMER.test`, PASSWORD);
    expect(duplicate.statusCode).toBe(409);
    expect(errorCode(duplicate)).toBe('email_taken');

    // The normalized address signs in, whatever form it is typed in.
    expect((await api.login(`${fullwidth}@customer.test`)).statusCode).toBe(200);
  });

  // The second row: addresses the mailer would refuse (several recipients, a display name, a NUL)
  // once answered 500 from inside the sign-up transaction (security review M2/M3).
  it.each(['not-an-email', 'two@@at.test', 'no-dot@localhost', 'spa ce@customer.test', 'a,b@customer.test', 'x<y@customer.test', '"q"@customer.test', 'nul\u0000@customer.test'])('answers 400 invalid_email for %j', async (email) => {
    const response = await api.signup(email, PASSWORD);
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_email');
  });

  it('answers 400, not 500, for a NUL byte in a name', async () => {
    const response = await api.signup(freshEmail(), PASSWORD, 'Ada\u0000Lovelace');
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_request');
  });

  it.each([
    ['too short', 'short words'],
    ['common', 'password1234'],
    ['a keyboard pattern', 'qwertyuiop123'],
    ['a repetition', 'aaaaaaaaaaaaaaaa'],
  ])('refuses a %s password with 400 weak_password and a reason to act on', async (_kind, password) => {
    const response = await api.signup(freshEmail('weak'), password);
    expect(response.statusCode).toBe(400);
    const error = response.json().error;
    expect(error.code).toBe('weak_password');
    expect(error.message.length).toBeGreaterThan(20);
  });

  it('says how long a password must be when it is too short', async () => {
    const response = await api.signup(freshEmail('short'), 'tiny pass');
    expect(response.json().error.message).toMatch(/at least 12 characters/);
  });

  // Regression: the policy split the address into words, so the local part plus a year scored
  // as strong ("marguerite.duras2024!" passed).
  it.each(['marguerite.duras2024!', 'Marguerite.Duras.2024', 'marguerite.duras@customer.test'])('refuses %j, built from the address itself', async (password) => {
    // Refused, so nothing is created: the fixed address is safe to reuse.
    const response = await api.signup('marguerite.duras@customer.test', password);
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('weak_password');
  });

  it('refuses a password longer than 128 characters and does not truncate: 128 is accepted', async () => {
    const long = 'correct horse battery staple '.repeat(5).slice(0, 129);
    const refused = await api.signup(freshEmail('long'), long);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.message).toMatch(/at most 128/);

    const email = freshEmail('max');
    expect((await api.signup(email, long.slice(0, 128))).statusCode).toBe(201);
    // No truncation: a password that differs only after character 72 (bcrypt's limit) is wrong.
    expect((await api.login(email, long.slice(0, 127) + 'X')).statusCode).toBe(401);
    expect((await api.login(email, long.slice(0, 128))).statusCode).toBe(200);
  });

  // Regression: passwords were hashed as typed, so the same accented password entered in another
  // Unicode form (precomposed on one keyboard, decomposed on another) was refused.
  it('accepts a password typed in another Unicode normalization form', async () => {
    const composed = 'crème brûlée à la façon de grand-mère'.normalize('NFC');
    const decomposed = composed.normalize('NFD');
    expect(decomposed).not.toBe(composed);
    const email = freshEmail('unicode');
    expect((await api.signup(email, composed)).statusCode).toBe(201);
    expect((await api.login(email, decomposed)).statusCode).toBe(200);
  });

  it('mails a verification link whose token verifies the address once', async () => {
    const { email, tokens } = await api.account(freshEmail('verify'));
    expect((await api.me(tokens.access_token)).json().email_verified).toBe(false);

    const token = await mailedToken(t, email, /confirm your email/i);
    const verified = await api.inject({ method: 'POST', url: '/v1/auth/email/verify', payload: { token } });
    expect(verified.statusCode, verified.body).toBe(204);
    expect((await api.me(tokens.access_token)).json().email_verified).toBe(true);

    const again = await api.inject({ method: 'POST', url: '/v1/auth/email/verify', payload: { token } });
    expect(again.statusCode).toBe(400);
    expect(errorCode(again)).toBe('invalid_token');
  });

  it('refuses a verification token after its 24 hours', async () => {
    const { email, tokens } = await api.account(freshEmail('late'));
    const token = await mailedToken(t, email, /confirm your email/i);
    clock.advance(24 * 3_600_000 + 1_000);
    const response = await api.inject({ method: 'POST', url: '/v1/auth/email/verify', payload: { token } });
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_token');
    const refreshed = (await api.refresh(tokens.refresh_token)).json<{ access_token: string }>();
    expect((await api.me(refreshed.access_token)).json().email_verified).toBe(false);
  });

  it('refuses an unknown verification token', async () => {
    const response = await api.inject({ method: 'POST', url: '/v1/auth/email/verify', payload: { token: 'A'.repeat(43) } });
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_token');
  });
});

describe('invite-only mode', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_SIGNUP: 'invite_only' });
  }, 60_000);
  afterAll(async () => t.close());

  it('answers 403 signup_disabled and creates nothing', async () => {
    const email = freshEmail('invite');
    const response = await identityClient(t).signup(email, PASSWORD);
    expect(response.statusCode).toBe(403);
    expect(errorCode(response)).toBe('signup_disabled');
    const row = await t.db.database.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
    expect(row).toBeUndefined();
  });
});
