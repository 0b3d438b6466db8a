/**
 * An org API key is a bearer credential that lives in CI secrets and config files, so it leaks.
 * These tests attack it the ways a holder or a thief would: a key of one org used against
 * another's URL, a guessed or forged key (right shape, right checksum), a key carried to the
 * user-only routes (`/v1/me`, key and settings management) to mint more keys or escalate, a
 * revoked key reused, a member or admin minting a key with more than their role allows, and a
 * stolen copy of the api_keys table used to recognise a key. A mistyped key must fail before
 * any database work, so garbage cannot load the database.
 */
import { createHash, createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKey } from '../../src/crypto/root-key.js';
import { withTenant } from '../../src/platform/db/index.js';
import { createTestApp, TEST_ROOT_KEY } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';
import { errorCode, RELAXED_LIMITS } from '../identity/support.js';
import { apiKeyClient } from './api-key-support.js';

/** A database whose every query is counted, to prove a request made none. */
async function countingDatabase(): Promise<{ db: TestDatabase; queries: () => number }> {
  const real = await createTestDatabase();
  let count = 0;
  const counter: KyselyPlugin = {
    transformQuery: (args) => {
      count++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { db: { ...real, database: { ...real.database, db: real.database.db.withPlugin(counter) } }, queries: () => count };
}

function withChecksum(unchecked: string): string {
  // The same CRC32 the server uses, to build keys that pass the typo filter.
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(unchecked));
  return `${unchecked}_${sum.toString('base64url')}`;
}

describe('API key attacks', () => {
  let t: TestApp;
  let counted: Awaited<ReturnType<typeof countingDatabase>>;
  let keys: ReturnType<typeof apiKeyClient>;

  beforeAll(async () => {
    counted = await countingDatabase();
    t = await createTestApp(RELAXED_LIMITS, { db: counted.db });
    keys = apiKeyClient(t);
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await counted.db.drop();
  });

  it('refuses a mistyped key before any database query', async () => {
    const { id, admin } = await keys.org();
    const { key } = await keys.issue(admin, id, { scopes: ['members:read'] });
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    const typos = [flip(key, 10), flip(key, key.length - 1), key.slice(0, -1), `${key}x`, key.replace('rk_', 'rK_'), `rk_${'A'.repeat(71)}`];
    for (const typo of typos) {
      const before = counted.queries();
      const response = await keys.call(typo, 'GET', `/v1/orgs/${id}/members`);
      expect(response.statusCode, typo).toBe(401);
      expect(errorCode(response)).toBe('unauthenticated');
      expect(counted.queries(), typo).toBe(before);
    }
    // The counter works: the real key does reach the database.
    const before = counted.queries();
    expect((await keys.call(key, 'GET', `/v1/orgs/${id}/members`)).statusCode).toBe(200);
    expect(counted.queries()).toBeGreaterThan(before);
  });

  it('refuses guessed and forged keys that pass the checksum, with one answer that does not tell a known key id', async () => {
    const { id, admin } = await keys.org();
    const { key } = await keys.issue(admin, id, { scopes: ['members:read'] });
    // A random key: no such key id in this org.
    const guessed = withChecksum(`rk_${Buffer.alloc(48, 9).toString('base64url')}`);
    const unknown = await keys.call(guessed, 'GET', `/v1/orgs/${id}/members`);
    // A real key id with another secret: the id is not the credential.
    const body = Buffer.from(key.slice(3, 67), 'base64url');
    body.fill(1, 16);
    const forged = await keys.call(withChecksum(`rk_${body.toString('base64url')}`), 'GET', `/v1/orgs/${id}/members`);
    // Key ids are shown in lists and audit entries: whether one exists here must not be learnable.
    const answer = (response: typeof forged) => {
      const { request_id: _requestId, ...error } = response.json<{ error: Record<string, unknown> }>().error;
      return { status: response.statusCode, error };
    };
    expect(answer(forged)).toEqual({ status: 401, error: { code: 'unauthenticated', message: expect.any(String) } });
    expect(answer(unknown)).toEqual(answer(forged));
  });

  it('keeps a key inside its own org: another org’s URL answers as for an org that does not exist, and shows nothing', async () => {
    const first = await keys.org();
    const second = await keys.org();
    const { key } = await keys.issue(first.owner, first.id, { scopes: ['members:read'] });
    // Another org holds no such key: the same 401 as any unknown key, whether or not the org exists.
    for (const url of [`/v1/orgs/${second.id}/members`, '/v1/orgs/00000000-0000-4000-8000-000000000000/members']) {
      const response = await keys.call(key, 'GET', url);
      expect(response.statusCode, url).toBe(401);
      expect(errorCode(response)).toBe('unauthenticated');
      expect(response.body).not.toContain(second.owner.id);
    }
    const malformed = await keys.call(key, 'GET', '/v1/orgs/not-a-uuid/members');
    expect(malformed.statusCode).toBe(404);
    expect(errorCode(malformed)).toBe('not_found');
  });

  it('stops a key when its creator is demoted below its scopes or leaves the org', async () => {
    const { id, owner, admin } = await keys.org();
    const { key } = await keys.issue(admin, id, { scopes: ['members:read', 'records:write'] });
    expect((await keys.call(key, 'GET', `/v1/orgs/${id}/members`)).statusCode).toBe(200);
    // A member may not write records, so the admin's key carrying records:write dies with the demotion.
    await keys.call(owner.token, 'PATCH', `/v1/orgs/${id}/members/${admin.id}`, { role: 'member' });
    expect((await keys.call(key, 'GET', `/v1/orgs/${id}/members`)).statusCode).toBe(401);

    const { key: ownersKey } = await keys.issue(owner, id, { scopes: ['members:read'] });
    await withTenant(t.db.database.db, id, (trx) => trx.updateTable('memberships').set({ role: 'owner' }).where('user_id', '=', admin.id).execute());
    await keys.call(admin.token, 'DELETE', `/v1/orgs/${id}/members/${owner.id}`);
    expect((await keys.call(ownersKey, 'GET', `/v1/orgs/${id}/members`)).statusCode).toBe(401);
  });

  it('refuses keys on user-only routes: /v1/me, settings, roles and key management', async () => {
    const { id, owner, member } = await keys.org();
    const { key, id: keyId } = await keys.issue(owner, id, { scopes: ['members:read', 'audit:read', 'audit:write', 'records:read', 'records:write', 'dsr:read', 'dsr:write', 'consent:read', 'consent:write'] });
    const attempts: Array<['GET' | 'POST' | 'PATCH' | 'DELETE', string, Record<string, unknown>?]> = [
      ['GET', '/v1/me'],
      ['GET', '/v1/me/sessions'],
      ['GET', `/v1/orgs/${id}`],
      ['PATCH', `/v1/orgs/${id}`, { name: 'pwned' }],
      ['PATCH', `/v1/orgs/${id}/members/${member.id}`, { role: 'owner' }],
      ['DELETE', `/v1/orgs/${id}/members/${member.id}`],
      ['GET', `/v1/orgs/${id}/api-keys`],
      ['POST', `/v1/orgs/${id}/api-keys`, { name: 'more', scopes: ['members:read'] }],
      ['DELETE', `/v1/orgs/${id}/api-keys/${keyId}`],
    ];
    for (const [method, url, payload] of attempts) {
      const response = await keys.call(key, method, url, payload);
      expect(response.statusCode, `${method} ${url}`).toBe(401);
    }
    expect((await keys.call(key, 'GET', `/v1/orgs/${id}/members`)).statusCode).toBe(200);
  });

  it('never lets a key hold more than its creator’s role allows', async () => {
    const { id, admin, member } = await keys.org();
    const byMember = await keys.call(member.token, 'POST', `/v1/orgs/${id}/api-keys`, { name: 'mine', scopes: ['members:read'] });
    expect(byMember.statusCode).toBe(403);
    expect(errorCode(byMember)).toBe('forbidden');
    // Admins hold every permission a scope grants (data-subject requests included), so they may issue any scope.
    expect((await keys.call(admin.token, 'GET', `/v1/orgs/${id}/api-keys`)).json().data).toEqual([]);
    await keys.issue(admin, id, { scopes: ['dsr:write'] });
    // Members cannot list or revoke keys either.
    expect((await keys.call(member.token, 'GET', `/v1/orgs/${id}/api-keys`)).statusCode).toBe(403);
  });

  it('stores only a keyed hash: the table alone cannot recognise a key', async () => {
    const { id, admin } = await keys.org();
    const issued = await keys.issue(admin, id, { scopes: ['members:read'] });
    const row = await t.db.database.db.selectFrom('api_keys').select('key_hash').where('key_id', '=', issued.id).executeTakeFirstOrThrow();
    const stored = Buffer.from(row.key_hash);
    expect(stored.equals(createHash('sha256').update(issued.key).digest())).toBe(false);
    const pepper = deriveKey(Buffer.from(TEST_ROOT_KEY, 'base64'), 'api-key-pepper');
    expect(stored.equals(createHmac('sha256', pepper).update(issued.key).digest())).toBe(true);
  });

  it('gives each key its own rate limit', async () => {
    const limited = await createTestApp({ ...RELAXED_LIMITS, RAMPART_RATE_LIMIT_PER_ACCOUNT: '3' });
    try {
      const client = apiKeyClient(limited);
      const { id, owner } = await client.org();
      const first = await client.issue(owner, id, { scopes: ['members:read'] });
      const second = await client.issue(owner, id, { scopes: ['members:read'] });
      for (let i = 0; i < 3; i++) expect((await client.call(first.key, 'GET', `/v1/orgs/${id}/members`)).statusCode).toBe(200);
      const exhausted = await client.call(first.key, 'GET', `/v1/orgs/${id}/members`);
      expect(exhausted.statusCode).toBe(429);
      expect(exhausted.headers['retry-after']).toBeDefined();
      expect((await client.call(second.key, 'GET', `/v1/orgs/${id}/members`)).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
