/**
 * An organization is a customer's own space: nobody outside it may learn it exists, and inside it
 * nobody may act above their role. These tests try the escalations an insider would: a member
 * raising itself, an admin creating or demoting an owner, the last owner leaving, a removed or
 * demoted member carrying on with the same token, and outsiders probing org ids.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { bearer, errorCode, identityClient, RELAXED_LIMITS } from '../identity/support.js';
import type { IdentityClient } from '../identity/support.js';

type Member = { id: string; token: string };

describe('organizations and roles', () => {
  let t: TestApp;
  let api: IdentityClient;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    api = identityClient(t);
  }, 60_000);
  afterAll(async () => t.close());

  async function user(): Promise<Member> {
    const account = await api.account();
    return { id: account.id, token: account.tokens.access_token };
  }

  function call(member: Member, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>) {
    return t.app.inject({ method, url, headers: bearer(member.token), ...(payload ? { payload } : {}) });
  }

  /** An org with an owner, an admin and a member. Until invitations exist, members are added directly. */
  async function org() {
    const [owner, admin, member] = await Promise.all([user(), user(), user()]);
    const created = await call(owner, 'POST', '/v1/orgs', { name: 'Acme Inspections' });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<{ id: string }>().id;
    await withTenant(t.db.database.db, id, (trx) =>
      trx.insertInto('memberships').values([
        { tenant_id: id, user_id: admin.id, role: 'admin' },
        { tenant_id: id, user_id: member.id, role: 'member' },
      ]).execute(),
    );
    return { id, owner, admin, member };
  }

  it('makes the creator the owner and shows the org to its members only', async () => {
    const { id, owner, member } = await org();
    const outsider = await user();
    expect((await call(owner, 'GET', `/v1/orgs/${id}`)).json()).toMatchObject({ id, name: 'Acme Inspections', mfa_required_for: 'none' });
    expect((await call(member, 'GET', `/v1/orgs/${id}`)).statusCode).toBe(200);
    const members = await call(member, 'GET', `/v1/orgs/${id}/members`);
    expect(members.json().data.map((m: { role: string }) => m.role).sort()).toEqual(['admin', 'member', 'owner']);
    for (const url of [`/v1/orgs/${id}`, `/v1/orgs/${id}/members`]) {
      const probe = await call(outsider, 'GET', url);
      expect(probe.statusCode, url).toBe(404);
      expect(errorCode(probe)).toBe('not_found');
    }
    // An org that does not exist and one that exists answer the outsider identically.
    const missing = await call(outsider, 'GET', '/v1/orgs/00000000-0000-4000-8000-000000000000');
    expect(missing.statusCode).toBe(404);
    expect((await call(outsider, 'GET', '/v1/orgs/not-a-uuid')).statusCode).toBe(404);
    expect((await call(outsider, 'PATCH', `/v1/orgs/${id}`, { name: 'pwned' })).statusCode).toBe(404);
  });

  it("lists a user's own orgs with their role at /v1/me, and no one else's", async () => {
    const first = await org();
    const second = await org();
    const me = await call(first.admin, 'GET', '/v1/me');
    expect(me.json().orgs).toEqual([{ id: first.id, name: 'Acme Inspections', role: 'admin' }]);
    expect((await call(second.owner, 'GET', '/v1/me')).json().orgs).toEqual([{ id: second.id, name: 'Acme Inspections', role: 'owner' }]);
  });

  it('does not let a member change settings or raise itself', async () => {
    const { id, member } = await org();
    expect(errorCode(await call(member, 'PATCH', `/v1/orgs/${id}`, { name: 'Mine now' }))).toBe('forbidden');
    const raise = await call(member, 'PATCH', `/v1/orgs/${id}/members/${member.id}`, { role: 'admin' });
    expect(raise.statusCode).toBe(403);
  });

  it('does not let an admin create, demote or remove an owner', async () => {
    const { id, owner, admin, member } = await org();
    expect((await call(admin, 'PATCH', `/v1/orgs/${id}/members/${member.id}`, { role: 'owner' })).statusCode).toBe(403);
    expect((await call(admin, 'PATCH', `/v1/orgs/${id}/members/${admin.id}`, { role: 'owner' })).statusCode).toBe(403);
    expect((await call(admin, 'PATCH', `/v1/orgs/${id}/members/${owner.id}`, { role: 'member' })).statusCode).toBe(403);
    expect((await call(admin, 'DELETE', `/v1/orgs/${id}/members/${owner.id}`)).statusCode).toBe(403);
    // What an admin may do: manage the roles below owner.
    const promote = await call(admin, 'PATCH', `/v1/orgs/${id}/members/${member.id}`, { role: 'admin' });
    expect(promote.json()).toEqual({ user_id: member.id, role: 'admin' });
  });

  it('keeps the last owner: no demotion, no leaving, until another owner exists', async () => {
    const { id, owner, admin } = await org();
    expect(errorCode(await call(owner, 'PATCH', `/v1/orgs/${id}/members/${owner.id}`, { role: 'admin' }))).toBe('last_owner');
    expect(errorCode(await call(owner, 'DELETE', `/v1/orgs/${id}/members/${owner.id}`))).toBe('last_owner');
    expect((await call(owner, 'PATCH', `/v1/orgs/${id}/members/${admin.id}`, { role: 'owner' })).statusCode).toBe(200);
    expect((await call(owner, 'DELETE', `/v1/orgs/${id}/members/${owner.id}`)).statusCode).toBe(204);
    expect((await call(owner, 'GET', `/v1/orgs/${id}`)).statusCode).toBe(404);
  });

  it('refuses to delete the account of an org’s only owner, so no org is left without one', async () => {
    const { id, owner, admin } = await org();
    const refused = await call(owner, 'DELETE', '/v1/me', {});
    expect(refused.statusCode).toBe(409);
    expect(errorCode(refused)).toBe('last_owner');
    expect(refused.json().error.message).toContain('Acme Inspections');
    await call(owner, 'PATCH', `/v1/orgs/${id}/members/${admin.id}`, { role: 'owner' });
    expect((await call(owner, 'DELETE', '/v1/me', {})).statusCode).toBe(202);
  });

  it('applies a demotion or removal on the very next request, with the same token', async () => {
    const { id, owner, admin, member } = await org();
    expect((await call(admin, 'PATCH', `/v1/orgs/${id}`, { invite_only: true })).statusCode).toBe(200);
    await call(owner, 'PATCH', `/v1/orgs/${id}/members/${admin.id}`, { role: 'member' });
    expect((await call(admin, 'PATCH', `/v1/orgs/${id}`, { invite_only: false })).statusCode).toBe(403);
    await call(owner, 'DELETE', `/v1/orgs/${id}/members/${member.id}`);
    expect((await call(member, 'GET', `/v1/orgs/${id}`)).statusCode).toBe(404);
  });

  it('refuses members of one org acting on another org’s members', async () => {
    const first = await org();
    const second = await org();
    const across = await call(first.owner, 'PATCH', `/v1/orgs/${first.id}/members/${second.member.id}`, { role: 'admin' });
    expect(across.statusCode).toBe(404);
    expect((await call(first.owner, 'DELETE', `/v1/orgs/${first.id}/members/${second.owner.id}`)).statusCode).toBe(404);
    const secondMembers = await call(second.owner, 'GET', `/v1/orgs/${second.id}/members`);
    expect(secondMembers.json().data.map((m: { user_id: string }) => m.user_id)).not.toContain(first.owner.id);
  });

  it('enforces the MFA policy on org routes, but leaves enrolment reachable', async () => {
    const { id, owner, member } = await org();
    const patched = await call(owner, 'PATCH', `/v1/orgs/${id}`, { mfa_required_for: 'all' });
    expect(patched.statusCode, patched.body).toBe(200);
    const blocked = await call(member, 'GET', `/v1/orgs/${id}`);
    expect(blocked.statusCode).toBe(403);
    expect(errorCode(blocked)).toBe('mfa_required');
    expect((await call(member, 'POST', '/v1/me/mfa/totp')).statusCode).toBe(200);
  });

  it('lets admins tighten the MFA policy but only owners loosen it', async () => {
    const { id, owner, admin } = await org();
    expect((await call(admin, 'PATCH', `/v1/orgs/${id}`, { mfa_required_for: 'owners' })).statusCode).toBe(200);
    const loosen = await call(admin, 'PATCH', `/v1/orgs/${id}`, { mfa_required_for: 'none' });
    expect(loosen.statusCode).toBe(403);
    // The owner is now covered by the policy; with TOTP on, they may loosen it.
    await t.db.database.db
      .insertInto('totp_factors')
      .values({ realm: 'user', principal_id: owner.id, secret_sealed: Buffer.alloc(1), confirmed_at: new Date() })
      .execute();
    expect((await call(owner, 'PATCH', `/v1/orgs/${id}`, { mfa_required_for: 'none' })).statusCode).toBe(200);
  });

  it('gives the application role no way to change an org’s plan', async () => {
    const { id } = await org();
    await expect(
      withTenant(t.db.database.db, id, (trx) => trx.updateTable('tenants').set({ plan: 'enterprise' }).where('tenant_id', '=', id).execute()),
    ).rejects.toThrow(/permission denied/);
  });

  it('validates settings and records each change with before and after', async () => {
    const { id, owner } = await org();
    for (const body of [{ retention_days: 0 }, { erasure_grace_days: 91 }, { mfa_required_for: 'sometimes' }, { plan: 'enterprise' }, {}, { name: '   ' }]) {
      const response = await call(owner, 'PATCH', `/v1/orgs/${id}`, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
    }
    const changed = await call(owner, 'PATCH', `/v1/orgs/${id}`, { retention_days: 30, erasure_grace_days: 0 });
    expect(changed.json()).toMatchObject({ retention_days: 30, erasure_grace_days: 0 });
    const events = await t.db.database.db.selectFrom('security_events').select(['action', 'metadata']).where('action', '=', 'org.settings_changed').execute();
    expect(events.map((event) => event.metadata)).toContainEqual({
      before: { retention_days: 90, erasure_grace_days: 30 },
      after: { retention_days: 30, erasure_grace_days: 0 },
      tenant_id: id,
    });
  });
});
