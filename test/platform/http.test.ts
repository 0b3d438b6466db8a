import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';

const UUID = /^[0-9a-f-]{36}$/;

function expectErrorShape(body: unknown, code: string): void {
  expect(body).toMatchObject({ error: { code, message: expect.any(String), request_id: expect.stringMatching(UUID) } });
  const text = JSON.stringify(body);
  expect(text).not.toMatch(/at .*\.(ts|js):\d+|stack|select |insert |SQL/i);
}

describe('HTTP pipeline', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({}, {
      extend(app) {
        // A route with a typed body, as every real route has, to exercise validation end to end.
        app.post(
          '/test/echo',
          { schema: { body: Type.Object({ name: Type.String({ maxLength: 20 }), count: Type.Integer() }, { additionalProperties: false }) } },
          async (request) => request.body,
        );
        app.get('/test/boom', async () => {
          throw new Error('relation "secret_table" does not exist at select * from secret_table');
        });
      },
    });
  }, 60_000);
  afterAll(async () => t.close());

  it('answers unknown routes 404 in the one error shape', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/nope' });
    expect(response.statusCode).toBe(404);
    expectErrorShape(response.json(), 'not_found');
    expect(response.headers['x-request-id']).toBe(response.json().error.request_id);
  });

  it('accepts a valid body', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'a', count: 2 } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ name: 'a', count: 2 });
  });

  it('refuses malformed JSON with 400 invalid_request', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": "a", ',
    });
    expect(response.statusCode).toBe(400);
    expectErrorShape(response.json(), 'invalid_request');
  });

  it('refuses type-confused bodies instead of coercing them, with details', async () => {
    for (const payload of [{ name: 12, count: 2 }, { name: 'a', count: '2' }, { name: ['a'], count: 2 }, [1, 2], 'text', null]) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/test/echo',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(payload),
      });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expectErrorShape(response.json(), 'invalid_request');
    }
    const response = await t.app.inject({ method: 'POST', url: '/test/echo', payload: { name: 12, count: 2 } });
    expect(response.json().error.details[0]).toEqual({ path: 'body.name', message: expect.any(String) });
  });

  it('refuses unknown fields and prototype pollution', async () => {
    const extra = await t.app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'a', count: 1, admin: true } });
    expect(extra.statusCode).toBe(400);
    const proto = await t.app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":"a","count":1,"__proto__":{"admin":true}}',
    });
    expect(proto.statusCode).toBe(400);
    expectErrorShape(proto.json(), 'invalid_request');
  });

  it('answers an empty JSON body 400', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '' });
    expect(response.statusCode).toBe(400);
    expectErrorShape(response.json(), 'invalid_request');
  });

  it('answers bodies over the limit 413', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10), count: 1 }),
    });
    expect(response.statusCode).toBe(413);
    expectErrorShape(response.json(), 'payload_too_large');
  });

  it('answers a wrong content type 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const response = await t.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': type }, payload: 'name=a' });
      expect(response.statusCode, type).toBe(415);
      expectErrorShape(response.json(), 'unsupported_media_type');
    }
  });

  it('hides internal errors behind a bare 500 and logs them', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/test/boom' });
    expect(response.statusCode).toBe(500);
    expectErrorShape(response.json(), 'internal');
    expect(response.body).not.toContain('secret_table');
    expect(t.rawLogs()).toContain('secret_table');
  });

  it('sends the security headers on every response, errors included', async () => {
    for (const url of ['/health/live', '/nope', '/openapi.json', '/docs/']) {
      const response = await t.app.inject({ method: 'GET', url });
      const csp = String(response.headers['content-security-policy']);
      expect(csp, url).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['permissions-policy']).toContain('camera=()');
      expect(response.headers['x-powered-by']).toBeUndefined();
      // Plain HTTP: HSTS would be meaningless and is not sent (see tls.test.ts for HTTPS).
      expect(response.headers['strict-transport-security']).toBeUndefined();
    }
    const api = await t.app.inject({ method: 'GET', url: '/health/live' });
    expect(api.headers['cache-control']).toBe('no-store');
  });

  it('sends no CORS headers unless origins are configured', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://evil.example' } });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('CORS allow-list', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_CORS_ORIGINS: 'https://app.example' });
  }, 60_000);
  afterAll(async () => t.close());

  it('allows a listed origin and no other', async () => {
    const listed = await t.app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://app.example' } });
    expect(listed.headers['access-control-allow-origin']).toBe('https://app.example');
    const other = await t.app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
