/**
 * An invitation is a key to an organization, mailed to one address. The attacks: an insider
 * inviting above their role (a member inviting anyone, an admin minting an owner); someone other
 * than the invitee using a forwarded or leaked link (another account, or an account that claims the
 * address without having proven it); replaying a link that was used, revoked or has expired;
 * rewriting the tenant part of a token to join a different org with it; and outsiders listing or
 * revoking another org's invitations by id. Each must fail without telling the attacker about the
 * org, and without spoiling the invitation for the person it was meant for.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { errorCode, freshEmail, identityClient, RELAXED_LIMITS } from '../identity/support.js';
import type { IdentityClient } from '../identity/support.js';
import { invitationKit } from './invitation-support.js';
import type { Person } from './invitation-support.js';

const DAY_MS = 86_400_000;

describe('invitation attacks', () => {
  let t: TestApp;
  let api: IdentityClient;
  let kit: ReturnType<typeof invitationKit>;
  const clock = new FakeClock('2026-03-02T09:00:00Z');

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS, { clock });
    api = identityClient(t);
    kit = invitationKit(t, api);
  }, 60_000);
  afterAll(async () => t.close());

  /** An org with an owner, an admin and a member, who joined through invitations. */
  async function org(name = 'Acme Inspections') {
    // One after another: each drains the job queue for its mail, and on PostgreSQL a concurrent drain
    // skips the job another holds, returning before that mail is written.
    const owner = await kit.person();
    const admin = await kit.person();
    const member = await kit.person();
    const id = await kit.org(owner, name);
    await kit.join(owner, id, admin, 'admin');
    await kit.join(owner, id, member, 'member');
    return { id, owner, admin, member };
  }

  async function statusOf(by: Person, orgId: string, email: string): Promise<string | undefined> {
    const listed = await kit.call(by, 'GET', `/v1/orgs/${orgId}/invitations`);
    return listed.json<{ data: Array<{ email: string; status: string }> }>().data.find((invitation) => invitation.email === email)?.status;
  }

  async function isMember(orgId: string, userId: string): Promise<boolean> {
    const row = await withTenant(t.db.database.db, orgId, (trx) => trx.selectFrom('memberships').select('user_id').where('user_id', '=', userId).executeTakeFirst());
    return row !== undefined;
  }

  it('lets only owners invite owners, and members invite nobody', async () => {
    const { id, owner, admin, member } = await org();
    const byAdmin = await kit.invite(admin, id, freshEmail('would-be-owner'), 'owner');
    expect(byAdmin.statusCode).toBe(403);
    expect(errorCode(byAdmin)).toBe('forbidden');
    expect((await kit.invite(admin, id, freshEmail('new-admin'), 'admin')).statusCode).toBe(201);
    expect((await kit.invite(admin, id, freshEmail('new-member'), 'member')).statusCode).toBe(201);
    expect((await kit.invite(owner, id, freshEmail('co-owner'), 'owner')).statusCode).toBe(201);

    for (const role of ['member', 'admin', 'owner'] as const) {
      const byMember = await kit.invite(member, id, freshEmail('friend'), role);
      expect(byMember.statusCode, role).toBe(403);
      expect(errorCode(byMember)).toBe('forbidden');
    }
    expect((await kit.call(member, 'GET', `/v1/orgs/${id}/invitations`)).statusCode).toBe(403);
  });

  it('does not let an admin revoke an invitation to become owner', async () => {
    const { id, owner, admin } = await org();
    const email = freshEmail('co-owner');
    const sent = (await kit.invite(owner, id, email, 'owner')).json<{ id: string }>();
    expect((await kit.call(admin, 'DELETE', `/v1/orgs/${id}/invitations/${sent.id}`)).statusCode).toBe(403);
    expect(await statusOf(owner, id, email)).toBe('pending');
  });

  it('refuses a signed-in user whose email is not the invited one, without naming the org', async () => {
    const { id, owner } = await org('Secret Project Ltd');
    const invitee = await kit.person();
    const thief = await kit.person();
    expect((await kit.invite(owner, id, invitee.email, 'admin')).statusCode).toBe(201);
    const token = await kit.mailedInvitation(invitee.email);

    const stolen = await kit.accept(thief, token);
    expect(stolen.statusCode).toBe(403);
    expect(errorCode(stolen)).toBe('forbidden');
    expect(stolen.body).not.toContain('Secret Project');
    expect(await isMember(id, thief.id)).toBe(false);
    // The attempt spoils nothing for the invitee.
    expect((await kit.accept(invitee, token)).statusCode).toBe(200);
  });

  it('refuses an account that holds the invited address without having verified it', async () => {
    const { id, owner } = await org();
    const squatter = await kit.person({ verified: false });
    expect((await kit.invite(owner, id, squatter.email, 'member')).statusCode).toBe(201);
    const response = await kit.accept(squatter, await kit.mailedInvitation(squatter.email));
    expect(response.statusCode).toBe(403);
    expect(errorCode(response)).toBe('email_not_verified');
    expect(await isMember(id, squatter.id)).toBe(false);
  });

  it('accepts a token once: a replay, even a concurrent one, is invalid_token', async () => {
    const { id, owner } = await org();
    const invitee = await kit.person();
    expect((await kit.invite(owner, id, invitee.email, 'member')).statusCode).toBe(201);
    const token = await kit.mailedInvitation(invitee.email);

    const outcomes = await Promise.all([kit.accept(invitee, token), kit.accept(invitee, token)]);
    expect(outcomes.map((response) => response.statusCode).sort()).toEqual([200, 400]);
    // Removed afterwards, the former invitee cannot use the old link to come back.
    expect((await kit.call(owner, 'DELETE', `/v1/orgs/${id}/members/${invitee.id}`)).statusCode).toBe(204);
    const replay = await kit.accept(invitee, token);
    expect(replay.statusCode).toBe(400);
    expect(errorCode(replay)).toBe('invalid_token');
    expect(replay.json().error.message).toMatch(/already been accepted/);
    expect(await isMember(id, invitee.id)).toBe(false);
  });

  it('refuses a revoked invitation', async () => {
    const { id, admin } = await org();
    const invitee = await kit.person();
    const sent = (await kit.invite(admin, id, invitee.email, 'member')).json<{ id: string }>();
    const token = await kit.mailedInvitation(invitee.email);
    expect((await kit.call(admin, 'DELETE', `/v1/orgs/${id}/invitations/${sent.id}`)).statusCode).toBe(204);
    const response = await kit.accept(invitee, token);
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_token');
    expect(response.json().error.message).toMatch(/revoked/);
    expect(await isMember(id, invitee.id)).toBe(false);
  });

  it('voids an invitation whose sender has left the org or may no longer invite', async () => {
    const { id, owner, admin } = await org();
    const invitee = await kit.person();
    await kit.invite(admin, id, invitee.email, 'member');
    const token = await kit.mailedInvitation(invitee.email);
    await kit.call(owner, 'PATCH', `/v1/orgs/${id}/members/${admin.id}`, { role: 'member' });
    const response = await kit.accept(invitee, token);
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_token');
    expect(await isMember(id, invitee.id)).toBe(false);
  });

  it('refuses an invitation after its 7 days and lists it as expired', async () => {
    const { id, owner } = await org();
    const invitee = await kit.person();
    expect((await kit.invite(owner, id, invitee.email, 'member')).statusCode).toBe(201);
    const token = await kit.mailedInvitation(invitee.email);
    clock.advance(7 * DAY_MS + 1_000);
    const freshOwner = await kit.signIn(owner);
    const freshInvitee = await kit.signIn(invitee);
    const response = await kit.accept(freshInvitee, token);
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('invalid_token');
    expect(response.json().error.message).toMatch(/expired/);
    expect(await statusOf(freshOwner, id, invitee.email)).toBe('expired');
    // An expired invitation does not block a new one.
    expect((await kit.invite(freshOwner, id, invitee.email, 'member')).statusCode).toBe(201);
  });

  it('does not let a token of one org open another by rewriting its tenant part', async () => {
    const a = await org('Org A');
    const b = await org('Org B');
    const invitee = await kit.person();
    expect((await kit.invite(a.owner, a.id, invitee.email, 'admin')).statusCode).toBe(201);
    // Org B also has a pending invitation for the same address: the rewritten token must still not match it.
    expect((await kit.invite(b.owner, b.id, invitee.email, 'member')).statusCode).toBe(201);
    const token = await kit.mailedInvitation(invitee.email, 'Org A');
    const secret = token.slice(token.indexOf('.') + 1);

    for (const forged of [`${b.id}.${secret}`, `${b.id.toUpperCase()}.${secret}`, `${randomUUID()}.${secret}`, secret, `${a.id}.${secret}x`, `${a.id}..${secret}`, `${a.id}`]) {
      const response = await kit.accept(invitee, forged);
      expect(response.statusCode, forged).toBe(400);
      expect(errorCode(response)).toBe('invalid_token');
    }
    expect(await isMember(b.id, invitee.id)).toBe(false);
    expect(await statusOf(b.owner, b.id, invitee.email)).toBe('pending');

    const genuine = await kit.accept(invitee, token);
    expect(genuine.json()).toEqual({ org: { id: a.id, name: 'Org A' }, role: 'admin' });
    expect(await isMember(b.id, invitee.id)).toBe(false);
  });

  it("answers 404 to outsiders listing or revoking another org's invitations, and changes nothing", async () => {
    const a = await org();
    const b = await org();
    const outsider = await kit.person();
    const email = freshEmail('b-invitee');
    const sent = (await kit.invite(b.owner, b.id, email, 'member')).json<{ id: string }>();

    for (const person of [outsider, a.owner]) {
      const list = await kit.call(person, 'GET', `/v1/orgs/${b.id}/invitations`);
      expect(list.statusCode).toBe(404);
      expect(list.body).not.toContain(email);
      expect((await kit.call(person, 'DELETE', `/v1/orgs/${b.id}/invitations/${sent.id}`)).statusCode).toBe(404);
      expect((await kit.invite(person, b.id, freshEmail('planted'), 'owner')).statusCode).toBe(404);
    }
    // Org A's owner naming B's invitation under A's own org: not found there either.
    const across = await kit.call(a.owner, 'DELETE', `/v1/orgs/${a.id}/invitations/${sent.id}`);
    expect(across.statusCode).toBe(404);
    expect(errorCode(across)).toBe('not_found');
    expect((await kit.call(a.owner, 'GET', `/v1/orgs/${a.id}/invitations`)).body).not.toContain(email);
    expect(await statusOf(b.owner, b.id, email)).toBe('pending');
  });

  it('requires a signed-in user to accept', async () => {
    const { id, owner } = await org();
    const email = freshEmail('anonymous');
    expect((await kit.invite(owner, id, email, 'member')).statusCode).toBe(201);
    const response = await api.inject({ method: 'POST', url: '/v1/invitations/accept', payload: { token: await kit.mailedInvitation(email) } });
    expect(response.statusCode).toBe(401);
  });
});
