/**
 * The suppression (opt-out) list: addresses are normalized like accounts' and stored only as keyed
 * hashes; checks answer without storing the address; keys need the consent scopes; tenants are apart.
 */
import { describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { dsrClient, usePrivacyApp } from './dsr-support.js';

const ctx = usePrivacyApp();

describe('suppression list', () => {
  it('adds, checks, lists as hashes and removes an address, normalized like account emails', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const key = await api.key(org, ['consent:read', 'consent:write']);
    const path = `/v1/orgs/${org.id}/suppressions`;
    const added = await api.call(key, 'POST', path, { email: ' Ada@Example.COM ' });
    expect(added.statusCode).toBe(201);
    expect(added.json()).toEqual({ suppressed: true, created: true });
    expect((await api.call(key, 'POST', path, { email: 'ada@example.com' })).json()).toEqual({ suppressed: true, created: false });
    expect((await api.call(key, 'POST', `${path}/check`, { email: 'ADA@example.com' })).json()).toEqual({ suppressed: true });
    expect((await api.call(key, 'POST', `${path}/check`, { email: 'bob@example.com' })).json()).toEqual({ suppressed: false });

    const list = await api.call(key, 'GET', path);
    expect(list.json<{ data: Array<{ id: string; source: string }> }>().data).toEqual([expect.objectContaining({ source: 'api', id: expect.stringMatching(/^[0-9a-f]{64}$/) })]);
    expect(list.body.toLowerCase()).not.toContain('ada@');
    const stored = await withTenant(ctx.t.db.database.db, org.id, (trx) => trx.selectFrom('suppressions').selectAll().where('tenant_id', '=', org.id).execute());
    expect(JSON.stringify(stored)).not.toContain('ada');
    expect(ctx.t.rawLogs()).not.toContain('ada@example.com');

    expect((await api.call(key, 'DELETE', path, { email: 'ada@example.com' })).statusCode).toBe(204);
    expect((await api.call(key, 'DELETE', path, { email: 'ada@example.com' })).statusCode).toBe(404);
    expect((await api.call(key, 'POST', `${path}/check`, { email: 'ada@example.com' })).json()).toEqual({ suppressed: false });
  });

  it('refuses malformed input, missing scopes and other tenants', async () => {
    const api = dsrClient(ctx.t);
    const [a, b] = [await api.orgWithGrace(), await api.orgWithGrace()];
    const path = `/v1/orgs/${a.id}/suppressions`;
    for (const body of [{ email: 'not an address' }, { email: 'a@b.c', extra: 1 }, {}, { email: 'x'.repeat(300) }]) {
      expect((await api.call(a.owner.token, 'POST', path, body)).statusCode).toBe(400);
    }
    const reader = await api.key(a, ['consent:read']);
    expect((await api.call(reader, 'POST', path, { email: 'c@example.com' })).statusCode).toBe(403);
    const records = await api.key(a, ['records:read']);
    expect((await api.call(records, 'POST', `${path}/check`, { email: 'c@example.com' })).statusCode).toBe(403);
    expect((await api.call(a.member.token, 'POST', path, { email: 'c@example.com' })).statusCode).toBe(403);
    expect((await api.call(a.admin.token, 'POST', path, { email: 'c@example.com' })).statusCode).toBe(201);
    // The same address in another org is another, unrelated entry.
    expect((await api.call(b.owner.token, 'POST', `/v1/orgs/${b.id}/suppressions/check`, { email: 'c@example.com' })).json()).toEqual({ suppressed: false });
    expect((await api.call(b.owner.token, 'POST', `${path}/check`, { email: 'c@example.com' })).statusCode).toBe(404);
    expect((await api.call(a.owner.token, 'GET', `${path}?cursor=zz`)).statusCode).toBe(400);
    expect((await api.call(a.owner.token, 'DELETE', path)).statusCode).toBe(400);
    expect((await api.call(b.owner.token, 'DELETE', path)).statusCode).toBe(404);
  });
});
