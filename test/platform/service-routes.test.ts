import { request as httpsRequest } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKey } from '../../src/crypto/root-key.js';
import { ensureSigningKey, rotateSigningKey } from '../../src/crypto/signing-keys.js';
import { openPostgres } from '../../src/platform/db/index.js';
import { createTestApp, TEST_ROOT_KEY } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';

describe('service routes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      RAMPART_SECURITY_CONTACT: 'mailto:security@vendor.example,https://vendor.example/report',
      RAMPART_SECURITY_POLICY: 'https://vendor.example/disclosure',
      RAMPART_SECURITY_LANGUAGES: 'en, de',
      RAMPART_SECURITY_TXT_EXPIRES: '2027-06-30T00:00:00Z',
      RAMPART_PUBLIC_URL: 'https://auth.vendor.example',
    });
  }, 60_000);
  afterAll(async () => t.close());

  it('answers liveness and readiness', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/health/live' })).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { database: 'ok' } });
  });

  it('serves security.txt per RFC 9116', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/.well-known/security.txt' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toBe(
      [
        'Contact: mailto:security@vendor.example',
        'Contact: https://vendor.example/report',
        'Expires: 2027-06-30T00:00:00Z',
        'Policy: https://vendor.example/disclosure',
        'Preferred-Languages: en, de',
        'Canonical: https://auth.vendor.example/.well-known/security.txt',
        '',
      ].join('\n'),
    );
  });

  it('publishes the access-token signing keys as a JWKS without private parts', async () => {
    // Test databases are cloned before any key exists; start-up creates one the same way.
    const key = await ensureSigningKey(t.db.database.db, deriveKey(Buffer.from(TEST_ROOT_KEY, 'base64'), 'signing-keys'), 'access-token');
    const response = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(response.statusCode).toBe(200);
    const { keys } = response.json();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toEqual({ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: key.kid, alg: 'EdDSA', use: 'sig' });
    const stored = await t.db.database.db.selectFrom('signing_keys').select('private_key_sealed').executeTakeFirstOrThrow();
    const rawPrivate = key.privateKey.export({ format: 'der', type: 'pkcs8' });
    expect(stored.private_key_sealed.includes(rawPrivate.subarray(-32))).toBe(false);
  });

  it('describes every route in an OpenAPI 3.1 document and serves a browsable reference', async () => {
    const spec = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(spec.openapi).toBe('3.1.0');
    for (const path of ['/health/live', '/health/ready', '/openapi.json', '/.well-known/security.txt', '/.well-known/jwks.json']) {
      expect(spec.paths, path).toHaveProperty([path, 'get', 'responses', '200']);
    }
    expect(spec.paths['/health/ready'].get.responses).toHaveProperty('503');
    const docs = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger-ui');
    expect(docs.body).not.toMatch(/<script>(?!\s*<\/script>)/);
  });
});

describe('readiness while the database is unreachable', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Nothing listens on port 9 of loopback: every connection is refused at once.
    const database = openPostgres('postgres://postgres@127.0.0.1:9/none', 1);
    t = await createTestApp({}, {
      db: { database, url: null, drop: () => database.close() },
      extend(app) {
        app.get('/test/query', async () => sql`select 1`.execute(database.db));
      },
    });
  }, 60_000);
  afterAll(async () => t.close());

  it('answers readiness 503 with Retry-After, liveness still 200', async () => {
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.headers['retry-after']).toBe('5');
    expect(ready.json()).toMatchObject({ error: { code: 'unavailable' } });
    expect((await t.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
  });

  it('answers a request that needs the database 503, not 500', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/test/query' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.body).not.toContain('127.0.0.1');
  });
});

describe('TLS', () => {
  let dir: string;
  let certFile: string;
  let keyFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-tls-'));
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
    certFile = join(dir, 'cert.pem');
    keyFile = join(dir, 'key.pem');
    await writeFile(certFile, pems.cert);
    await writeFile(keyFile, pems.private, { mode: 0o600 });
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  async function listen(env: Record<string, string>): Promise<{ t: TestApp; port: number }> {
    const t = await createTestApp({ RAMPART_TLS_CERT: certFile, RAMPART_TLS_KEY: keyFile, ...env });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    return { t, port: typeof address === 'object' && address ? address.port : 0 };
  }

  function get(port: number, maxVersion: 'TLSv1.2' | 'TLSv1.3', ciphers?: string) {
    return new Promise<{ status: number; hsts: string | undefined }>((resolve, reject) => {
      const options = { host: '127.0.0.1', port, path: '/health/live', rejectUnauthorized: false, maxVersion, ...(ciphers ? { ciphers } : {}) };
      const req = httpsRequest(options, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, hsts: res.headers['strict-transport-security'] as string | undefined });
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves HTTPS with HSTS and refuses TLS 1.2 by default', async () => {
    const { t, port } = await listen({});
    try {
      const response = await get(port, 'TLSv1.3');
      expect(response).toEqual({ status: 200, hsts: 'max-age=31536000; includeSubDomains' });
      await expect(get(port, 'TLSv1.2')).rejects.toThrow(/protocol|version|alert/i);
    } finally {
      await t.close();
    }
  });

  it('accepts TLS 1.2 when configured as the minimum', async () => {
    const { t, port } = await listen({ RAMPART_TLS_MIN_VERSION: 'TLSv1.2' });
    try {
      expect((await get(port, 'TLSv1.2')).status).toBe(200);
      // Static-RSA key exchange has no forward secrecy: refused even on TLS 1.2.
      await expect(get(port, 'TLSv1.2', 'AES256-GCM-SHA384')).rejects.toThrow(/handshake|cipher|alert/i);
    } finally {
      await t.close();
    }
  });
});

describe('signing key rotation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  }, 60_000);
  afterAll(async () => t.close());

  async function publishedKids(): Promise<string[]> {
    return (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{ keys: Array<{ kid: string }> }>().keys.map((key) => key.kid);
  }

  it('publishes the retired key beside its successor, and drops a compromised one at once', async () => {
    const sealingKey = deriveKey(Buffer.from(TEST_ROOT_KEY, 'base64'), 'signing-keys');
    const first = await ensureSigningKey(t.db.database.db, sealingKey, 'access-token');
    const rotated = await rotateSigningKey(t.db.database.db, sealingKey, 'access-token', new Date());
    expect(rotated.retired).toEqual([first.kid]);
    expect((await publishedKids()).sort()).toEqual([first.kid, rotated.kid].sort());
    const dropped = await rotateSigningKey(t.db.database.db, sealingKey, 'access-token', new Date(), { dropPrevious: true });
    expect(dropped.retired).toEqual([rotated.kid]);
    // The first key's grace period is still running; the dropped one is gone.
    expect((await publishedKids()).sort()).toEqual([first.kid, dropped.kid].sort());
  });
});
