/**
 * Rate limits stand between an attacker and brute force. These tests exhaust each bucket, try to
 * slip past it with a spoofed X-Forwarded-For, and take Redis away to check limits do not switch
 * off. Every test uses client addresses of its own, since with Redis counters outlive the app.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import type { App } from '../../src/app.js';

function freshIp(): string {
  return `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
}

async function hit(app: App, url: string, remoteAddress: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url, remoteAddress, headers });
}

function addRoutes(app: App): void {
  app.get('/test/open', async () => ({ ok: true }));
  app.get('/test/auth', { config: { rateLimit: 'auth' } }, async () => ({ ok: true }));
  app.get<{ Querystring: { account: string } }>('/test/account', async (request) => {
    await app.rateLimiter.consume('account', request.query.account);
    return { ok: true };
  });
}

const LIMITS = { RAMPART_RATE_LIMIT_PER_IP: '5', RAMPART_RATE_LIMIT_AUTH_PER_IP: '2', RAMPART_RATE_LIMIT_PER_ACCOUNT: '3' };

describe('rate limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(LIMITS, { extend: addRoutes });
  }, 60_000);
  afterAll(async () => t.close());

  it('limits each client IP and answers 429 with Retry-After in the one error shape', async () => {
    const ip = freshIp();
    for (let i = 0; i < 5; i++) expect((await hit(t.app, '/test/open', ip)).statusCode).toBe(200);
    const limited = await hit(t.app, '/test/open', ip);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({ error: { code: 'rate_limited' } });
    // Another client is unaffected.
    expect((await hit(t.app, '/test/open', freshIp())).statusCode).toBe(200);
  });

  it('is stricter on authentication routes', async () => {
    const ip = freshIp();
    expect((await hit(t.app, '/test/auth', ip)).statusCode).toBe(200);
    expect((await hit(t.app, '/test/auth', ip)).statusCode).toBe(200);
    expect((await hit(t.app, '/test/auth', ip)).statusCode).toBe(429);
    // The general bucket still has points for the same client.
    expect((await hit(t.app, '/test/open', ip)).statusCode).toBe(200);
  });

  it('limits an account across client IPs', async () => {
    const account = `user-${randomInt(1e9)}`;
    for (let i = 0; i < 3; i++) expect((await hit(t.app, `/test/account?account=${account}`, freshIp())).statusCode).toBe(200);
    expect((await hit(t.app, `/test/account?account=${account}`, freshIp())).statusCode).toBe(429);
    expect((await hit(t.app, `/test/account?account=other-${account}`, freshIp())).statusCode).toBe(200);
  });

  it('ignores a spoofed X-Forwarded-For when no proxy is trusted', async () => {
    const ip = freshIp();
    for (let i = 0; i < 5; i++) await hit(t.app, '/test/open', ip, { 'x-forwarded-for': freshIp() });
    expect((await hit(t.app, '/test/open', ip, { 'x-forwarded-for': freshIp() })).statusCode).toBe(429);
  });

  it('never limits health checks', async () => {
    const ip = freshIp();
    for (let i = 0; i < 8; i++) expect((await hit(t.app, '/health/live', ip)).statusCode).toBe(200);
  });
});

describe('rate limits behind a trusted proxy', () => {
  let t: TestApp;
  const proxy = freshIp();
  beforeAll(async () => {
    t = await createTestApp({ ...LIMITS, RAMPART_TRUSTED_PROXIES: proxy }, { extend: addRoutes });
  }, 60_000);
  afterAll(async () => t.close());

  it('limits by the client address the proxy reports', async () => {
    const client = freshIp();
    for (let i = 0; i < 5; i++) expect((await hit(t.app, '/test/open', proxy, { 'x-forwarded-for': client })).statusCode).toBe(200);
    expect((await hit(t.app, '/test/open', proxy, { 'x-forwarded-for': client })).statusCode).toBe(429);
    expect((await hit(t.app, '/test/open', proxy, { 'x-forwarded-for': freshIp() })).statusCode).toBe(200);
  });
});

describe('rate limits when Redis is unreachable', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Port 9 (discard) on loopback: nothing listens, so every Redis command fails at once.
    t = await createTestApp({ ...LIMITS, REDIS_URL: 'redis://127.0.0.1:9' }, { extend: addRoutes });
  }, 60_000);
  afterAll(async () => t.close());

  it('falls back to in-process limits instead of switching them off', async () => {
    const ip = freshIp();
    for (let i = 0; i < 5; i++) expect((await hit(t.app, '/test/open', ip)).statusCode).toBe(200);
    expect((await hit(t.app, '/test/open', ip)).statusCode).toBe(429);
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.json()).toMatchObject({ checks: { redis: 'down' } });
  });
});

describe.runIf(process.env.REDIS_URL)('rate limits shared through Redis', () => {
  let first: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    first = await createTestApp(LIMITS, { extend: addRoutes });
    second = await createTestApp(LIMITS, { extend: addRoutes, db: first.db });
    // Wait until both clients are connected, so the shared store is actually in use.
    for (const app of [first, second]) {
      for (let i = 0; i < 50; i++) {
        const ready = await app.app.inject({ method: 'GET', url: '/health/ready' });
        if (ready.json().checks?.redis === 'ok') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }, 60_000);
  afterAll(async () => {
    await second.close();
    await first.close();
  });

  it('counts one client across every node', async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) expect((await hit(first.app, '/test/open', ip)).statusCode).toBe(200);
    for (let i = 0; i < 2; i++) expect((await hit(second.app, '/test/open', ip)).statusCode).toBe(200);
    expect((await hit(first.app, '/test/open', ip)).statusCode).toBe(429);
    expect((await hit(second.app, '/test/open', ip)).statusCode).toBe(429);
  });
});
