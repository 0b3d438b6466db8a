import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/audit/verify.js';
import { withTenant } from '../../src/platform/db/index.js';
import { bearer, drainJobs, RELAXED_LIMITS, useIdentityApp } from './support.js';

describe('purging a deleted account', () => {
  const ctx = useIdentityApp({ ...RELAXED_LIMITS, RAMPART_ACCOUNT_DELETION_GRACE_DAYS: '0' });

  it('erases the person and their own history, but keeps (anonymised) what they did in an org', async () => {
    const { t, api } = ctx;
    const leaving = await api.account();
    const staying = await api.account();
    const created = await t.app.inject({ method: 'POST', url: '/v1/orgs', headers: bearer(leaving.tokens.access_token), payload: { name: 'Kept Co' } });
    const orgId = created.json<{ id: string }>().id;
    // Someone else must own the org too, or the deletion is refused (last owner).
    await withTenant(t.db.database.db, orgId, (trx) => trx.insertInto('memberships').values({ tenant_id: orgId, user_id: staying.id, role: 'owner' }).execute());

    const orgCreated = () => t.app.inject({ method: 'GET', url: `/v1/orgs/${orgId}/audit?action=org.created`, headers: bearer(staying.tokens.access_token) });
    expect((await orgCreated()).json<{ data: Array<{ ip: string | null }> }>().data[0]!.ip).toBe('127.0.0.1');

    const deleted = await api.as(leaving.tokens.access_token, 'DELETE', '/v1/me', {});
    expect(deleted.statusCode, deleted.body).toBe(202);
    await drainJobs(t);

    const db = t.db.database.db;
    expect(await db.selectFrom('users').select('id').where('id', '=', leaving.id).execute()).toEqual([]);
    expect(await db.selectFrom('security_events').select('action').where('principal_id', '=', leaving.id).execute()).toEqual([]);
    const orgEvents = await db.selectFrom('security_events').select(['action', 'principal_id', 'ip', 'metadata']).where('action', '=', 'org.created').execute();
    const kept = orgEvents.find((event) => (event.metadata as { tenant_id?: string }).tenant_id === orgId);
    expect(kept).toMatchObject({ action: 'org.created', principal_id: null, ip: null });

    // In the org's audit chain their entries stay, their IP and user agent are gone, and the chain verifies.
    const listed = await orgCreated();
    expect(listed.statusCode, listed.body).toBe(200);
    const [entry] = listed.json<{ data: Array<{ actor: { id: string }; ip: string | null; user_agent: string | null }> }>().data;
    expect(entry).toMatchObject({ actor: { id: leaving.id }, ip: null, user_agent: null });
    expect(await verifyChain(db, orgId)).toMatchObject({ valid: true });
  });
});
