/**
 * Logs leave the trust boundary: they are shipped to aggregators, read by support staff and kept
 * for months. These tests send secrets and personal data through every part of a request that gets
 * logged (headers, body, query string, error messages) and search every log line for them.
 */
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrub, scrubString } from '../../src/platform/log/scrub.js';
import { truncateIp } from '../../src/platform/log/logger.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';

const SECRETS = {
  password: 'correct-horse-battery-staple-93',
  bearer: 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNlY3JldA',
  apiKey: 'rk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0',
  cookie: 'session-cookie-value-7f3a',
  email: 'alice.secret@example.org',
  resetToken: 'reset-token-0123456789abcdef',
  dbPassword: 's3cr3t-db-pass',
};

describe('log scrubbing', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ RAMPART_LOG_LEVEL: 'debug' }, {
      extend(app) {
        app.post('/test/login', { schema: { body: Type.Object({ email: Type.String(), password: Type.String() }) } }, async (request) => {
          const body = request.body as { email: string; password: string };
          // A careless handler logging what it received must still not leak it.
          request.log.info({ body, headers: request.headers }, 'login attempt');
          request.log.info(`user ${body.email} tried to sign in`);
          throw new Error(`no account for ${body.email}; connection postgres://rampart:${SECRETS.dbPassword}@db/rampart`);
        });
      },
    });
  }, 60_000);
  afterAll(async () => t.close());

  it('keeps secrets and personal data out of every log line', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: `/test/login?token=${SECRETS.resetToken}&email=${encodeURIComponent(SECRETS.email)}`,
      headers: { authorization: `Bearer ${SECRETS.bearer}`, cookie: `sid=${SECRETS.cookie}`, 'x-api-key': SECRETS.apiKey },
      payload: { email: SECRETS.email, password: SECRETS.password },
    });
    expect(response.statusCode).toBe(500);
    const logs = t.rawLogs();
    expect(logs).toContain('login attempt');
    expect(logs).toContain('request failed');
    for (const [name, secret] of Object.entries(SECRETS)) {
      expect(logs, `${name} leaked into the logs`).not.toContain(secret);
    }
    expect(logs).not.toContain(encodeURIComponent(SECRETS.email));
    expect(logs).not.toContain('127.0.0.1');
  });

  it('redacts values under sensitive keys at any depth, and sensitive patterns in any string', () => {
    const scrubbed = scrub({
      user: { profile: { Password: 'x1', recovery_codes: ['a', 'b'], note: `mail ${SECRETS.email}` } },
      'X-Api-Key': 'abc',
      list: [{ access_token: 't' }],
      safe: 'kept',
    });
    expect(scrubbed).toEqual({
      user: { profile: { Password: '[redacted]', recovery_codes: '[redacted]', note: 'mail [email]' } },
      'X-Api-Key': '[redacted]',
      list: [{ access_token: '[redacted]' }],
      safe: 'kept',
    });
    expect(scrubString(`Authorization: Bearer ${SECRETS.bearer}`)).toBe('Authorization: Bearer [redacted]');
    expect(scrubString(`key ${SECRETS.apiKey} used`)).toBe('key rk_[redacted] used');
    expect(scrubString('/reset?token=abc&next=/home')).toBe('/reset?token=[redacted]&next=/home');
  });

  it('truncates client IPs to their network', () => {
    expect(truncateIp('203.0.113.77')).toBe('203.0.113.0');
    expect(truncateIp('::ffff:203.0.113.77')).toBe('203.0.113.0');
    expect(truncateIp('2001:db8:85a3:8d3:1319:8a2e:370:7348')).toBe('2001:db8:85a3::');
  });
});
