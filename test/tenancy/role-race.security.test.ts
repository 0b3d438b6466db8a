/**
 * Time of check to time of use: an admin's request is in flight when an owner demotes them. If the
 * admin's role were read before the request's own transaction (or in a statement that waited for
 * the demotion without seeing it), the stale role would let the change through after the demotion
 * committed. Here the demotion holds the org lock, as every role change does, while the request
 * arrives; on PostgreSQL the test commits it only once the request is seen waiting for that lock,
 * so the request is checked strictly after the demotion, with no timing involved. (On PGlite, one
 * connection, the request's queries simply run after the commit.)
 */
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import type { DB, TenantTransaction } from '../../src/platform/db/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { bearer, errorCode, identityClient, RELAXED_LIMITS } from '../identity/support.js';
import type { IdentityClient } from '../identity/support.js';

type Member = { id: string; token: string };
type Method = 'PATCH' | 'DELETE' | 'POST';

describe('role changes racing an org action', () => {
  let t: TestApp;
  let api: IdentityClient;
  let db: Kysely<DB>;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    api = identityClient(t);
    db = t.db.database.db;
  }, 60_000);
  afterAll(async () => t.close());

  async function user(): Promise<Member> {
    const account = await api.account();
    return { id: account.id, token: account.tokens.access_token };
  }

  function call(member: Member, method: Method | 'GET', url: string, payload?: Record<string, unknown>) {
    return t.app.inject({ method, url, headers: bearer(member.token), ...(payload ? { payload } : {}) });
  }

  async function org() {
    const [owner, admin, member] = await Promise.all([user(), user(), user()]);
    const created = await call(owner, 'POST', '/v1/orgs', { name: 'Acme Inspections' });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<{ id: string }>().id;
    await withTenant(db, id, (trx) =>
      trx.insertInto('memberships').values([
        { tenant_id: id, user_id: admin.id, role: 'admin' },
        { tenant_id: id, user_id: member.id, role: 'member' },
      ]).execute(),
    );
    return { id, owner, admin, member };
  }

  /** Whether some transaction of this database waits for a lock (PostgreSQL only). */
  async function someoneWaitsForALock(): Promise<boolean> {
    const { rows } = await sql<{ waiting: number }>`
      select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db);
    return (rows[0]?.waiting ?? 0) > 0;
  }

  /**
   * Sends `request` while `change` is applied under the org lock and not yet committed, and commits
   * it only after the request is blocked on that lock (PostgreSQL) or queued behind it (PGlite).
   */
  async function sendDuring(orgId: string, change: (trx: TenantTransaction) => Promise<unknown>, request: () => Promise<LightMyRequestResponse>) {
    let response: Promise<LightMyRequestResponse> | undefined;
    await withTenant(db, orgId, async (trx) => {
      await trx.selectFrom('tenants').select('tenant_id').where('tenant_id', '=', orgId).forUpdate().execute();
      await change(trx);
      response = request();
      // PGlite has one connection, held by this transaction: the request cannot overtake it, and
      // asking pg_stat_activity through the pool would wait for this transaction itself.
      if (t.db.url) while (!(await someoneWaitsForALock())) await new Promise((resolve) => setImmediate(resolve));
    });
    return response!;
  }

  const demote = (orgId: string, userId: string) => (trx: TenantTransaction) =>
    trx.updateTable('memberships').set({ role: 'member' }).where('tenant_id', '=', orgId).where('user_id', '=', userId).execute();
  const remove = (orgId: string, userId: string) => (trx: TenantTransaction) =>
    trx.deleteFrom('memberships').where('tenant_id', '=', orgId).where('user_id', '=', userId).execute();

  it('refuses an admin’s settings change once a demotion committed while it waited', async () => {
    const { id, admin } = await org();
    const response = await sendDuring(id, demote(id, admin.id), () => call(admin, 'PATCH', `/v1/orgs/${id}`, { name: 'Renamed by a former admin' }));
    expect(response.statusCode, response.body).toBe(403);
    expect(errorCode(response)).toBe('forbidden');
    expect((await call(admin, 'GET', `/v1/orgs/${id}`)).json()).toMatchObject({ name: 'Acme Inspections' });
  });

  it('refuses a role change, an invitation and a key once the actor is demoted or removed mid-request', async () => {
    const { id, admin, member } = await org();
    const promoted = await sendDuring(id, demote(id, admin.id), () => call(admin, 'PATCH', `/v1/orgs/${id}/members/${member.id}`, { role: 'admin' }));
    expect(promoted.statusCode, promoted.body).toBe(403);

    const second = await org();
    const invited = await sendDuring(second.id, remove(second.id, second.admin.id), () =>
      call(second.admin, 'POST', `/v1/orgs/${second.id}/invitations`, { email: `race-${second.id}@example.com`, role: 'admin' }),
    );
    // No longer a member: the org is not theirs to see.
    expect(invited.statusCode, invited.body).toBe(404);

    const third = await org();
    const issued = await sendDuring(third.id, demote(third.id, third.admin.id), () =>
      call(third.admin, 'POST', `/v1/orgs/${third.id}/api-keys`, { name: 'ci', scopes: ['members:read'] }),
    );
    expect(issued.statusCode, issued.body).toBe(403);

    // Nothing was done by any of the three.
    const roles = await withTenant(db, id, (trx) => trx.selectFrom('memberships').select(['user_id', 'role']).where('tenant_id', '=', id).execute());
    expect(roles.find((row) => row.user_id === member.id)?.role).toBe('member');
    expect(await withTenant(db, second.id, (trx) => trx.selectFrom('invitations').select('invitation_id').execute())).toEqual([]);
    expect(await withTenant(db, third.id, (trx) => trx.selectFrom('api_keys').select('key_id').execute())).toEqual([]);
  });

  it('reads the target’s role under the same lock: an owner made by a racing change cannot be demoted by an admin', async () => {
    const { id, admin, member } = await org();
    const promote = (trx: TenantTransaction) => trx.updateTable('memberships').set({ role: 'owner' }).where('tenant_id', '=', id).where('user_id', '=', member.id).execute();
    const demoted = await sendDuring(id, promote, () => call(admin, 'PATCH', `/v1/orgs/${id}/members/${member.id}`, { role: 'member' }));
    expect(demoted.statusCode, demoted.body).toBe(403);
    const roles = await withTenant(db, id, (trx) => trx.selectFrom('memberships').select(['user_id', 'role']).where('user_id', '=', member.id).execute());
    expect(roles[0]?.role).toBe('owner');
  });
});
