import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { errorCode, PASSWORD, RELAXED_LIMITS } from '../identity/support.js';
import { apiKeyClient, KEY_SHAPE } from './api-key-support.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

describe('org API keys', () => {
  const clock = new FakeClock(new Date());
  let t: TestApp;
  let keys: ReturnType<typeof apiKeyClient>;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS, { clock });
    keys = apiKeyClient(t);
  }, 60_000);
  afterAll(async () => t.close());

  it('shows a new key once; the list and the database never hold it', async () => {
    const { id, admin } = await keys.org();
    const issued = await keys.issue(admin, id, { name: 'Nightly sync', scopes: ['members:read', 'audit:read'] });
    expect(issued).toEqual({ id: expect.any(String), key: expect.stringMatching(KEY_SHAPE), name: 'Nightly sync', scopes: ['members:read', 'audit:read'], expires_at: null });

    const listed = await keys.call(admin.token, 'GET', `/v1/orgs/${id}/api-keys`);
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain(issued.key);
    expect(listed.json().data).toEqual([
      {
        id: issued.id,
        name: 'Nightly sync',
        scopes: ['members:read', 'audit:read'],
        created_by: admin.id,
        created_at: clock.now().toISOString(),
        expires_at: null,
        last_used_at: null,
        revoked_at: null,
      },
    ]);

    // Read as the database owner, past row-level security: no column holds the key or its secret.
    const rows = await t.db.database.db.selectFrom('api_keys').selectAll().execute();
    const secret = issued.key.slice(3, 3 + 64);
    for (const row of rows) {
      const stored = JSON.stringify({ ...row, key_hash: Buffer.from(row.key_hash).toString('base64url') });
      expect(stored).not.toContain(issued.key);
      expect(stored).not.toContain(secret);
      expect(Buffer.from(row.key_hash)).toHaveLength(32);
    }
    const events = await t.db.database.db.selectFrom('security_events').select(['action', 'principal_id', 'metadata']).where('action', '=', 'api_key.issued').execute();
    expect(events).toContainEqual({
      action: 'api_key.issued',
      principal_id: admin.id,
      metadata: { key_id: issued.id, name: 'Nightly sync', scopes: ['members:read', 'audit:read'], expires_at: null, tenant_id: id },
    });
    expect(JSON.stringify(events)).not.toContain(secret);
  });

  it('lets a members:read key list the members, and records when it was last used', async () => {
    const { id, owner, admin, member } = await keys.org();
    const issued = await keys.issue(admin, id, { scopes: ['members:read'] });
    const listed = await keys.call(issued.key, 'GET', `/v1/orgs/${id}/members`);
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json().data.map((m: { user_id: string }) => m.user_id).sort()).toEqual([owner.id, admin.id, member.id].sort());
    const [view] = (await keys.call(admin.token, 'GET', `/v1/orgs/${id}/api-keys`)).json().data;
    expect(view.last_used_at).toBe(clock.now().toISOString());
  });

  it('answers 403 to a key whose scopes do not cover the route', async () => {
    const { id, admin } = await keys.org();
    const issued = await keys.issue(admin, id, { scopes: ['audit:read', 'records:write'] });
    const denied = await keys.call(issued.key, 'GET', `/v1/orgs/${id}/members`);
    expect(denied.statusCode).toBe(403);
    expect(errorCode(denied)).toBe('forbidden');
  });

  it('stops a revoked key on its very next request', async () => {
    const { id, admin, owner } = await keys.org();
    const issued = await keys.issue(admin, id, { scopes: ['members:read'] });
    expect((await keys.call(issued.key, 'GET', `/v1/orgs/${id}/members`)).statusCode).toBe(200);
    const revoked = await keys.call(owner.token, 'DELETE', `/v1/orgs/${id}/api-keys/${issued.id}`);
    expect(revoked.statusCode).toBe(204);
    const next = await keys.call(issued.key, 'GET', `/v1/orgs/${id}/members`);
    expect(next.statusCode).toBe(401);
    expect(errorCode(next)).toBe('unauthenticated');
    // Idempotent, audited once, and visible in the list.
    expect((await keys.call(owner.token, 'DELETE', `/v1/orgs/${id}/api-keys/${issued.id}`)).statusCode).toBe(204);
    const [view] = (await keys.call(admin.token, 'GET', `/v1/orgs/${id}/api-keys`)).json().data;
    expect(view.revoked_at).toBe(clock.now().toISOString());
    const events = await t.db.database.db.selectFrom('security_events').select(['principal_id', 'metadata']).where('action', '=', 'api_key.revoked').execute();
    expect(events.filter((event) => (event.metadata as { key_id: string }).key_id === issued.id)).toEqual([
      { principal_id: owner.id, metadata: { key_id: issued.id, name: 'CI export', tenant_id: id } },
    ]);
    expect((await keys.call(owner.token, 'DELETE', `/v1/orgs/${id}/api-keys/00000000-0000-4000-8000-000000000000`)).statusCode).toBe(404);
  });

  it('stops a key when it expires', async () => {
    const { id, admin } = await keys.org();
    const issued = await keys.issue(admin, id, { scopes: ['members:read'], expires_in_days: 1 });
    expect(issued.expires_at).toBe(new Date(clock.now().getTime() + DAY_MS).toISOString());
    clock.advance(DAY_MS - 1000);
    expect((await keys.call(issued.key, 'GET', `/v1/orgs/${id}/members`)).statusCode).toBe(200);
    clock.advance(1000);
    const expired = await keys.call(issued.key, 'GET', `/v1/orgs/${id}/members`);
    expect(expired.statusCode).toBe(401);
    expect(errorCode(expired)).toBe('unauthenticated');
  });

  it('refuses unknown scopes, no scopes, and bad names or expiries', async () => {
    const { id, owner } = await keys.org();
    for (const body of [
      { name: 'x', scopes: ['members:write'] },
      { name: 'x', scopes: ['*'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['members:read', 'members:read'] },
      { name: '   ', scopes: ['members:read'] },
      { name: 'x'.repeat(101), scopes: ['members:read'] },
      { name: 'x', scopes: ['members:read'], expires_in_days: 0 },
      { name: 'x', scopes: ['members:read'], role: 'owner' },
    ]) {
      const response = await keys.call(owner.token, 'POST', `/v1/orgs/${id}/api-keys`, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(errorCode(response)).toBe('invalid_request');
    }
  });

  it('needs a sign-in within ten minutes, or the password, to create a key', async () => {
    const { id, admin } = await keys.org();
    clock.advance(11 * MINUTE_MS);
    const stale = await keys.call(admin.token, 'POST', `/v1/orgs/${id}/api-keys`, { name: 'x', scopes: ['members:read'] });
    expect(stale.statusCode).toBe(403);
    expect(errorCode(stale)).toBe('step_up_required');
    const wrong = await keys.call(admin.token, 'POST', `/v1/orgs/${id}/api-keys`, { name: 'x', scopes: ['members:read'], password: 'not my password at all' });
    expect(wrong.statusCode).toBe(403);
    expect(errorCode(wrong)).toBe('step_up_required');
    await keys.issue(admin, id, { scopes: ['members:read'], password: PASSWORD });
    // The password renewed the sign-in: the next key within ten minutes needs no password.
    await keys.issue(admin, id, { scopes: ['members:read'] });
    expect((await keys.call(admin.token, 'GET', `/v1/orgs/${id}/api-keys`)).json().data).toHaveLength(2);
  });
});
