/**
 * Attacks on the password step of sign-in. An attacker first learns which addresses have accounts
 * (user enumeration: comparing the answer for an unknown address with the answer for a wrong
 * password), then guesses passwords for them (brute force), spreading the guesses over many IP
 * addresses to slip under per-IP limits. Sign-in must answer both cases identically, and slow
 * down every further guess for an account after a few failures, whatever address they come from,
 * while its owner can sign in once the delay has passed.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoginThrottle } from '../../src/identity/login-throttle.js';
import { connectRedis } from '../../src/platform/redis.js';
import { AppError } from '../../src/platform/http/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { errorCode, freshEmail, freshIp, identityClient, PASSWORD, RELAXED_LIMITS } from './support.js';
import type { IdentityClient } from './support.js';

const WRONG = 'not the password at all';

/** The answer without what legitimately differs between two requests. */
function comparable(response: LightMyRequestResponse) {
  const body = response.json<{ error: Record<string, unknown> }>();
  const { request_id: requestId, ...error } = body.error;
  expect(requestId).toEqual(expect.any(String));
  const headers = Object.keys(response.headers)
    .filter((name) => !['x-request-id', 'date'].includes(name))
    .sort()
    .map((name) => [name, response.headers[name]]);
  return { status: response.statusCode, error, headers };
}

describe('sign-in attacks', () => {
  let t: TestApp;
  let api: IdentityClient;
  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    api = identityClient(t);
  }, 60_000);
  afterAll(async () => t.close());

  it('answers an unknown email exactly like a wrong password (status, body, headers)', async () => {
    const { email } = await api.account();
    const wrongPassword = await api.login(email, WRONG);
    const unknownEmail = await api.login(freshEmail('nobody'), WRONG);
    expect(wrongPassword.statusCode).toBe(401);
    expect(errorCode(wrongPassword)).toBe('invalid_credentials');
    expect(comparable(unknownEmail)).toEqual(comparable(wrongPassword));
  });

  it('answers a deleted account like an unknown one', async () => {
    const { email, tokens } = await api.account();
    expect((await api.as(tokens.access_token, 'DELETE', '/v1/me', { password: PASSWORD })).statusCode).toBe(202);
    const deleted = await api.login(email, PASSWORD);
    const unknown = await api.login(freshEmail('nobody'), PASSWORD);
    expect(comparable(deleted)).toEqual(comparable(unknown));
  });

  it('delays an account after 5 failures, even from 6 different IPs, with Retry-After; the right password waits too', async () => {
    const { id, email } = await api.account();
    for (let i = 0; i < 5; i++) {
      const response = await api.login(email, WRONG, freshIp());
      expect(response.statusCode).toBe(401);
    }
    const blocked = await api.login(email, PASSWORD, freshIp());
    expect(blocked.statusCode).toBe(429);
    expect(errorCode(blocked)).toBe('rate_limited');
    // 30 s on the throttle's own (real) clock, less whatever this test took since the 5th failure.
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(28);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(30);
    expect(blocked.json()).not.toHaveProperty('access_token');

    // Every refusal is in the owner's security history: 5 wrong passwords, then the throttled
    // attempt (regression: throttled attempts were not audited at all).
    const failures = await t.db.database.db
      .selectFrom('security_events')
      .select('metadata')
      .where('principal_id', '=', id)
      .where('action', '=', 'auth.login.failed')
      .orderBy('id')
      .execute();
    expect(failures.map((row) => (row.metadata as { reason: string }).reason)).toEqual([...Array<string>(5).fill('wrong_password'), 'throttled']);
  });

  it('throttles an unknown address exactly like a real one, so the delay reveals nothing', async () => {
    const { email } = await api.account();
    const unknown = freshEmail('nobody');
    for (let i = 0; i < 5; i++) {
      await api.login(email, WRONG, freshIp());
      await api.login(unknown, WRONG, freshIp());
    }
    const real = await api.login(email, WRONG, freshIp());
    const fake = await api.login(unknown, WRONG, freshIp());
    expect(real.statusCode).toBe(429);
    // The two windows opened a moment apart on the real clock: Retry-After may differ by a second.
    const withoutRetryAfter = (response: LightMyRequestResponse) => {
      const { headers, ...rest } = comparable(response);
      return { ...rest, headers: headers.filter(([name]) => name !== 'retry-after') };
    };
    expect(withoutRetryAfter(fake)).toEqual(withoutRetryAfter(real));
    expect(Math.abs(Number(fake.headers['retry-after']) - Number(real.headers['retry-after']))).toBeLessThanOrEqual(1);
  });

  it('forgets failures after a successful sign-in', async () => {
    const { email } = await api.account();
    for (let i = 0; i < 4; i++) expect((await api.login(email, WRONG)).statusCode).toBe(401);
    expect((await api.login(email)).statusCode).toBe(200);
    for (let i = 0; i < 4; i++) expect((await api.login(email, WRONG)).statusCode).toBe(401);
    expect((await api.login(email)).statusCode).toBe(200);
  });

  it('does not let a throttled address slow down a different account', async () => {
    const victim = await api.account();
    const bystander = await api.account();
    for (let i = 0; i < 6; i++) await api.login(victim.email, WRONG);
    expect((await api.login(bystander.email)).statusCode).toBe(200);
  });
});

describe('per-IP limit on sign-in', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_RATE_LIMIT_AUTH_PER_IP: '5' });
  }, 60_000);
  afterAll(async () => t.close());

  it('refuses an IP that spreads guesses over many accounts', async () => {
    const api = identityClient(t);
    const ip = freshIp();
    for (let i = 0; i < 5; i++) expect((await api.login(freshEmail('spray'), WRONG, ip)).statusCode).toBe(401);
    const refused = await api.login(freshEmail('spray'), WRONG, ip);
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not affected.
    expect((await api.login(freshEmail('spray'), WRONG, freshIp())).statusCode).toBe(401);
  });
});

// The HTTP tests above cannot move the throttle's clock (the app builds it), so the window itself
// is proven here, on both stores the app uses.
describe.each([
  { store: 'memory', redisUrl: undefined },
  { store: 'Redis', redisUrl: process.env.REDIS_URL },
].filter(({ store, redisUrl }) => store === 'memory' || redisUrl))('login throttle window ($store)', ({ redisUrl }) => {
  const redis = redisUrl ? connectRedis(redisUrl) : null;
  afterAll(() => redis?.disconnect());

  async function retryAfter(promise: Promise<void>): Promise<string | null> {
    try {
      await promise;
      return null;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      expect(error.status).toBe(429);
      return error.options.headers?.['retry-after'] ?? null;
    }
  }

  it('lets the owner in once the window passes, and doubles the window on each further failure', async () => {
    const clock = new FakeClock(new Date());
    const throttle = createLoginThrottle(redis, Buffer.alloc(32, 1), clock);
    const key = `test:${freshEmail()}`;
    for (let i = 0; i < 5; i++) {
      expect(await retryAfter(throttle.assertAllowed(key))).toBeNull();
      await throttle.recordFailure(key);
    }
    expect(await retryAfter(throttle.assertAllowed(key))).toBe('30');
    clock.advance(29_000);
    expect(await retryAfter(throttle.assertAllowed(key))).toBe('1');
    clock.advance(1_000);
    expect(await retryAfter(throttle.assertAllowed(key))).toBeNull();

    await throttle.recordFailure(key);
    expect(await retryAfter(throttle.assertAllowed(key))).toBe('60');
    clock.advance(60_000);
    await throttle.recordFailure(key);
    expect(await retryAfter(throttle.assertAllowed(key))).toBe('120');
    clock.advance(120_000);

    // The owner's success wipes the slate: the next failures are free again.
    await throttle.recordSuccess(key);
    for (let i = 0; i < 4; i++) await throttle.recordFailure(key);
    expect(await retryAfter(throttle.assertAllowed(key))).toBeNull();
  });
});
