import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { drainJobs, errorCode, freshEmail, identityClient, mailsTo, PASSWORD, RELAXED_LIMITS } from '../identity/support.js';
import type { IdentityClient } from '../identity/support.js';
import { invitationKit } from './invitation-support.js';
import type { Person } from './invitation-support.js';

describe('invitations', () => {
  let t: TestApp;
  let api: IdentityClient;
  let kit: ReturnType<typeof invitationKit>;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    api = identityClient(t);
    kit = invitationKit(t, api);
  }, 60_000);
  afterAll(async () => t.close());

  it('invites by mail; the invitee accepts, joins with the role, and both steps are audited', async () => {
    const owner = await kit.person();
    const orgId = await kit.org(owner);
    const invitee = await kit.person();

    const sent = await kit.invite(owner, orgId, `  ${invitee.email.toUpperCase()} `, 'admin');
    expect(sent.statusCode, sent.body).toBe(201);
    const invitation = sent.json<{ id: string; email: string; role: string; expires_at: string }>();
    expect(invitation).toEqual({ id: expect.any(String), email: invitee.email, role: 'admin', expires_at: expect.any(String) });
    const validFor = new Date(invitation.expires_at).getTime() - Date.now();
    expect(validFor).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(validFor).toBeLessThanOrEqual(7 * 86_400_000);

    await drainJobs(t);
    const [mail] = await mailsTo(t, invitee.email);
    expect(mail?.subject).toBe('You are invited to join Acme Inspections');
    expect(mail?.text).toContain(`${t.config.publicUrl}/accept-invitation?token=`);
    const token = await kit.mailedInvitation(invitee.email);
    expect(token.startsWith(`${orgId}.`)).toBe(true);

    // Only a keyed hash is stored, never the token.
    const stored = await withTenant(t.db.database.db, orgId, (trx) => trx.selectFrom('invitations').selectAll().execute());
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(token.split('.')[1]);
    expect(stored[0]!.token_hash).toHaveLength(32);

    const accepted = await kit.accept(invitee, token);
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json()).toEqual({ org: { id: orgId, name: 'Acme Inspections' }, role: 'admin' });

    const members = await kit.call(invitee, 'GET', `/v1/orgs/${orgId}/members`);
    expect(members.json().data).toContainEqual(expect.objectContaining({ user_id: invitee.id, email: invitee.email, role: 'admin' }));
    // The new admin holds the admin's rights at once.
    expect((await kit.call(invitee, 'GET', `/v1/orgs/${orgId}/invitations`)).statusCode).toBe(200);

    const listed = await kit.call(owner, 'GET', `/v1/orgs/${orgId}/invitations`);
    expect(listed.json()).toEqual({
      data: [{ id: invitation.id, email: invitee.email, role: 'admin', invited_by: owner.id, created_at: expect.any(String), expires_at: invitation.expires_at, status: 'accepted' }],
      next_cursor: null,
    });

    const events = await t.db.database.db.selectFrom('security_events').select(['action', 'principal_id', 'metadata']).where('action', 'like', 'invitation.%').execute();
    // The invitee's address is personal data of theirs: it is sealed in the org's chain, not kept in the owner's history.
    expect(events).toContainEqual({ action: 'invitation.sent', principal_id: owner.id, metadata: { invitation_id: invitation.id, role: 'admin', tenant_id: orgId } });
    expect(JSON.stringify(events)).not.toContain(invitee.email);
    expect(events).toContainEqual({ action: 'invitation.accepted', principal_id: invitee.id, metadata: { invitation_id: invitation.id, role: 'admin', tenant_id: orgId } });
  });

  it('refuses to invite a member again, or to send a second link beside a pending one', async () => {
    const owner = await kit.person();
    const orgId = await kit.org(owner);
    const self = await kit.invite(owner, orgId, owner.email, 'member');
    expect(self.statusCode).toBe(409);
    expect(errorCode(self)).toBe('already_member');

    const email = freshEmail('twice');
    expect((await kit.invite(owner, orgId, email, 'member')).statusCode).toBe(201);
    const again = await kit.invite(owner, orgId, email, 'admin');
    expect(again.statusCode).toBe(409);
    expect(errorCode(again)).toBe('invitation_pending');
  });

  it('validates the address and the role', async () => {
    const owner = await kit.person();
    const orgId = await kit.org(owner);
    for (const body of [{ email: 'not-an-address', role: 'member' }, { email: 'two@a.test,three@b.test', role: 'member' }, { email: 'x@y.test', role: 'superuser' }, { email: 'x@y.test' }]) {
      const response = await kit.call(owner, 'POST', `/v1/orgs/${orgId}/invitations`, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
    }
  });

  it('revokes a pending invitation: it is listed as revoked, audited, and a new one may be sent', async () => {
    const owner = await kit.person();
    const orgId = await kit.org(owner);
    const email = freshEmail('revoked');
    const sent = (await kit.invite(owner, orgId, email, 'member')).json<{ id: string }>();
    const revoked = await kit.call(owner, 'DELETE', `/v1/orgs/${orgId}/invitations/${sent.id}`);
    expect(revoked.statusCode, revoked.body).toBe(204);
    // Revoking twice changes nothing and records nothing more.
    expect((await kit.call(owner, 'DELETE', `/v1/orgs/${orgId}/invitations/${sent.id}`)).statusCode).toBe(204);
    const listed = (await kit.call(owner, 'GET', `/v1/orgs/${orgId}/invitations`)).json<{ data: Array<{ id: string; status: string }> }>();
    expect(listed.data).toEqual([expect.objectContaining({ id: sent.id, status: 'revoked' })]);
    const events = await t.db.database.db.selectFrom('security_events').select('metadata').where('action', '=', 'invitation.revoked').execute();
    expect(events.filter((event) => (event.metadata as { invitation_id: string }).invitation_id === sent.id)).toHaveLength(1);
    expect((await kit.invite(owner, orgId, email, 'member')).statusCode).toBe(201);
  });

  it('does not revoke an accepted invitation (that is removing a member)', async () => {
    const owner = await kit.person();
    const orgId = await kit.org(owner);
    const invitee = await kit.person();
    await kit.join(owner, orgId, invitee, 'member');
    const [invitation] = (await kit.call(owner, 'GET', `/v1/orgs/${orgId}/invitations`)).json<{ data: Array<{ id: string }> }>().data;
    const response = await kit.call(owner, 'DELETE', `/v1/orgs/${orgId}/invitations/${invitation!.id}`);
    expect(response.statusCode).toBe(409);
    expect(errorCode(response)).toBe('invitation_accepted');
  });

  it('answers 409 to an invitee who is already a member, and leaves the invitation unused', async () => {
    const owner = await kit.person();
    const orgId = await kit.org(owner);
    const invitee = await kit.person();
    expect((await kit.invite(owner, orgId, invitee.email, 'member')).statusCode).toBe(201);
    const token = await kit.mailedInvitation(invitee.email);
    // Joined by another path (a second invitation cannot be sent, so the row is written directly).
    await withTenant(t.db.database.db, orgId, (trx) => trx.insertInto('memberships').values({ tenant_id: orgId, user_id: invitee.id, role: 'member' }).execute());
    const response = await kit.accept(invitee, token);
    expect(response.statusCode).toBe(409);
    expect(errorCode(response)).toBe('already_member');
    const listed = (await kit.call(owner, 'GET', `/v1/orgs/${orgId}/invitations`)).json<{ data: Array<{ status: string }> }>();
    expect(listed.data[0]?.status).toBe('pending');
  });
});

describe('invite-only sign-up', () => {
  let t: TestApp;
  let api: IdentityClient;
  let kit: ReturnType<typeof invitationKit>;
  let owner: Person;
  let orgId: string;

  beforeAll(async () => {
    t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_SIGNUP: 'invite_only' });
    api = identityClient(t);
    kit = invitationKit(t, api);
    // The org's owner signed up before the instance went invite-only: same database, open sign-up.
    const open = await createTestApp(RELAXED_LIMITS, { db: t.db });
    try {
      const openKit = invitationKit(open, identityClient(open));
      owner = await openKit.person();
      orgId = await openKit.org(owner, 'Invite Only GmbH');
    } finally {
      await open.close();
    }
  }, 60_000);
  afterAll(async () => t.close());

  function signup(email: string, invitationToken?: string) {
    return api.inject({ method: 'POST', url: '/v1/auth/signup', payload: { email, password: PASSWORD, ...(invitationToken ? { invitation_token: invitationToken } : {}) } });
  }

  it('refuses sign-up without an invitation', async () => {
    const response = await signup(freshEmail('uninvited'));
    expect(response.statusCode).toBe(403);
    expect(errorCode(response)).toBe('signup_disabled');
  });

  it('creates an account with a verified email from a pending invitation, which it can then accept', async () => {
    const email = freshEmail('invited');
    expect((await kit.invite(owner, orgId, email, 'member')).statusCode).toBe(201);
    const token = await kit.mailedInvitation(email);

    const created = await signup(email.toUpperCase(), token);
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().user).toMatchObject({ email, email_verified: true });
    await drainJobs(t);
    expect((await mailsTo(t, email)).map((mail) => mail.subject)).not.toContain('Confirm your email address');
    const signupEvent = await t.db.database.db.selectFrom('security_events').select('metadata').where('action', '=', 'auth.signup').where('principal_id', '=', created.json<{ user: { id: string } }>().user.id).executeTakeFirst();
    expect(signupEvent?.metadata).toEqual({ via: 'invitation' });

    const invitee = await kit.signIn({ id: created.json<{ user: { id: string } }>().user.id, email, token: '' });
    const accepted = await kit.accept(invitee, token);
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json()).toEqual({ org: { id: orgId, name: 'Invite Only GmbH' }, role: 'member' });
  });

  it('refuses an invitation for another address, a forged one, and a revoked one', async () => {
    const email = freshEmail('invited');
    const sent = (await kit.invite(owner, orgId, email, 'member')).json<{ id: string }>();
    const token = await kit.mailedInvitation(email);

    const otherAddress = await signup(freshEmail('someone-else'), token);
    expect(otherAddress.statusCode).toBe(400);
    expect(errorCode(otherAddress)).toBe('invalid_token');
    expect((await signup(email, `${orgId}.${'A'.repeat(43)}`)).statusCode).toBe(400);
    expect((await signup(email, 'not-a-token-at-all')).statusCode).toBe(400);

    expect((await kit.call(owner, 'DELETE', `/v1/orgs/${orgId}/invitations/${sent.id}`)).statusCode).toBe(204);
    const revoked = await signup(email, token);
    expect(revoked.statusCode).toBe(400);
    expect(errorCode(revoked)).toBe('invalid_token');
    expect(await t.db.database.db.selectFrom('users').select('id').where('email', '=', email).execute()).toEqual([]);
  });
});

describe('sign-up with an invitation while sign-up is open', () => {
  let t: TestApp;
  let api: IdentityClient;
  let kit: ReturnType<typeof invitationKit>;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    api = identityClient(t);
    kit = invitationKit(t, api);
  }, 60_000);
  afterAll(async () => t.close());

  it('verifies the address with a valid invitation and refuses an invalid one', async () => {
    const owner = await kit.person();
    const orgId = await kit.org(owner);
    const email = freshEmail('invited');
    expect((await kit.invite(owner, orgId, email, 'member')).statusCode).toBe(201);
    const token = await kit.mailedInvitation(email);
    const wrong = await api.inject({ method: 'POST', url: '/v1/auth/signup', payload: { email: freshEmail('other'), password: PASSWORD, invitation_token: token } });
    expect(errorCode(wrong)).toBe('invalid_token');
    const created = await api.inject({ method: 'POST', url: '/v1/auth/signup', payload: { email, password: PASSWORD, invitation_token: token } });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().user.email_verified).toBe(true);
  });
});
