/**
 * What reaches the chains, through the real routes: a member's sign-ins (success and failure) in
 * the chain of each org they belong to; org actions with their actor (a user or an API key),
 * target, IP, user agent and request id; personal data apart from the metadata; and every entry
 * of a built-in action shaped as its catalogue entry says (src/audit/actions.ts).
 */
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_ACTIONS, isSecurityAction } from '../../src/audit/actions.js';
import { auditSubjectIndex, PLATFORM_CHAIN } from '../../src/audit/index.js';
import { verifyChain } from '../../src/audit/verify.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { bearer, freshEmail, freshIp, identityClient, PASSWORD, RELAXED_LIMITS } from '../identity/support.js';
import type { IdentityClient } from '../identity/support.js';
import { apiKeyClient } from '../tenancy/api-key-support.js';
import { invitationKit } from '../tenancy/invitation-support.js';
import type { Person } from '../tenancy/invitation-support.js';
import { chainEntries, personalOf } from './chain-support.js';
import type { EntryRow } from './chain-support.js';

const USER_AGENT = 'AuditCoverage/1.0 (test)';

describe('audit coverage', () => {
  let t: TestApp;
  let api: IdentityClient;
  let kit: ReturnType<typeof invitationKit>;
  let owner: Person;
  let member: Person;
  let orgA: string;
  let orgB: string;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    api = identityClient(t);
    kit = invitationKit(t, api);
    [owner, member] = [await kit.person(), await kit.person()];
    orgA = await kit.org(owner, 'Org A');
    orgB = await kit.org(owner, 'Org B');
    await kit.join(owner, orgA, member, 'member');
    await kit.join(owner, orgB, member, 'member');
  }, 60_000);
  afterAll(async () => t.close());

  const db = () => t.db.database.db;
  const entries = (tenantId: string) => chainEntries(db(), tenantId);

  /** A request from a known address and client, as the member or the owner. */
  function send(options: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; token?: string; payload?: Record<string, unknown> }, ip: string) {
    return t.app.inject({
      method: options.method,
      url: options.url,
      remoteAddress: ip,
      headers: { 'user-agent': USER_AGENT, ...(options.token ? bearer(options.token) : {}) },
      ...(options.payload ? { payload: options.payload } : {}),
    });
  }

  async function expectRecorded(row: EntryRow | undefined, expected: { actor: { type: string; id: string | null }; target: { type: string; id: string } | null; ip: string; requestId: string }) {
    expect(row).toBeDefined();
    expect({ type: row!.actor_type, id: row!.actor_id }).toEqual(expected.actor);
    expect(row!.target_type === null ? null : { type: row!.target_type, id: row!.target_id }).toEqual(expected.target);
    expect(row!.request_id).toBe(expected.requestId);
    expect(await personalOf(t, row!)).toMatchObject({ ip: expected.ip, user_agent: USER_AGENT });
  }

  it("puts a member's sign-in success and failure into the chain of each of their orgs", async () => {
    const ip = freshIp();
    const succeeded = await send({ method: 'POST', url: '/v1/auth/login', payload: { email: member.email, password: PASSWORD } }, ip);
    expect(succeeded.statusCode, succeeded.body).toBe(200);
    const failed = await send({ method: 'POST', url: '/v1/auth/login', payload: { email: member.email, password: 'not the password at all' } }, ip);
    expect(failed.statusCode).toBe(401);
    for (const org of [orgA, orgB]) {
      const rows = await entries(org);
      const self = { type: 'user', id: member.id };
      await expectRecorded(
        rows.find((row) => row.action === 'auth.login.succeeded' && row.request_id === succeeded.headers['x-request-id']),
        { actor: self, target: self, ip, requestId: String(succeeded.headers['x-request-id']) },
      );
      const failure = rows.find((row) => row.action === 'auth.login.failed' && row.request_id === failed.headers['x-request-id']);
      await expectRecorded(failure, { actor: self, target: self, ip, requestId: String(failed.headers['x-request-id']) });
      expect(failure!.metadata).toEqual({ reason: 'wrong_password' });
      // The subject column holds the member's keyed blind index, never their id.
      expect(failure!.subject_id).toBe(auditSubjectIndex(db(), org, { type: 'user', id: member.id }));
      expect(await verifyChain(db(), org)).toMatchObject({ valid: true });
    }
    // The member still sees their own history.
    const own = await api.as((await api.tokens(member.email)).access_token, 'GET', '/v1/me/security-events');
    expect(own.json<{ data: Array<{ action: string }> }>().data.map((event) => event.action)).toContain('auth.login.failed');
  });

  it('puts realm-level events (an unknown account, a user in no org) into the platform chain', async () => {
    const ip = freshIp();
    const unknown = await send({ method: 'POST', url: '/v1/auth/login', payload: { email: freshEmail('nobody'), password: PASSWORD } }, ip);
    expect(unknown.statusCode).toBe(401);
    const loner = await api.account();
    const rows = await entries(PLATFORM_CHAIN);
    const failure = rows.find((row) => row.request_id === unknown.headers['x-request-id']);
    await expectRecorded(failure, { actor: { type: 'user', id: null }, target: null, ip, requestId: String(unknown.headers['x-request-id']) });
    expect(failure!.metadata).toEqual({ reason: 'unknown_account' });
    expect(rows.filter((row) => row.actor_id === loner.id).map((row) => row.action)).toEqual(['auth.signup', 'auth.login.succeeded']);
    expect(await verifyChain(db(), PLATFORM_CHAIN)).toMatchObject({ valid: true });
  });

  it('records a role change, an invitation and an API key with their actor, target, IP, user agent and request id', async () => {
    const ip = freshIp();
    const changed = await send({ method: 'PATCH', url: `/v1/orgs/${orgA}/members/${member.id}`, token: owner.token, payload: { role: 'admin' } }, ip);
    expect(changed.statusCode, changed.body).toBe(200);
    const invitee = freshEmail('invitee');
    const invited = await send({ method: 'POST', url: `/v1/orgs/${orgA}/invitations`, token: owner.token, payload: { email: invitee, role: 'member' } }, ip);
    expect(invited.statusCode, invited.body).toBe(201);
    const issued = await send({ method: 'POST', url: `/v1/orgs/${orgA}/api-keys`, token: owner.token, payload: { name: 'host writer', scopes: ['audit:write'] } }, ip);
    expect(issued.statusCode, issued.body).toBe(201);

    const rows = await entries(orgA);
    const byRequest = (response: { headers: Record<string, unknown> }) => rows.find((row) => row.request_id === response.headers['x-request-id']);
    const actor = { type: 'user', id: owner.id };
    await expectRecorded(byRequest(changed), { actor, target: { type: 'user', id: member.id }, ip, requestId: String(changed.headers['x-request-id']) });
    expect(byRequest(changed)!.metadata).toEqual({ user_id: member.id, before: 'member', after: 'admin' });

    const invitationId = invited.json<{ id: string }>().id;
    const invitation = byRequest(invited);
    await expectRecorded(invitation, { actor, target: { type: 'invitation', id: invitationId }, ip, requestId: String(invited.headers['x-request-id']) });
    // The invitee's address is personal data: in the personal column, not in the metadata.
    expect(invitation!.metadata).toEqual({ invitation_id: invitationId, role: 'member' });
    expect(await personalOf(t, invitation!)).toMatchObject({ email: invitee });

    const key = issued.json<{ id: string; key: string }>();
    await expectRecorded(byRequest(issued), { actor, target: { type: 'api_key', id: key.id }, ip, requestId: String(issued.headers['x-request-id']) });
    expect(JSON.stringify(byRequest(issued))).not.toContain(key.key);

    // An API key acting is recorded as the key, not as the person who created it.
    const written = await send({ method: 'POST', url: `/v1/orgs/${orgA}/audit/events`, token: key.key, payload: { action: 'report.exported', metadata: { rows: 3 } } }, ip);
    expect(written.statusCode, written.body).toBe(201);
    const hostEvent = (await entries(orgA)).find((row) => row.request_id === written.headers['x-request-id']);
    await expectRecorded(hostEvent, { actor: { type: 'api_key', id: key.id }, target: null, ip, requestId: String(written.headers['x-request-id']) });
  });

  it('gives every entry of a built-in action the metadata its catalogue entry describes, with no personal field in it', async () => {
    const apiKeys = apiKeyClient(t);
    const org = await apiKeys.org();
    await apiKeys.issue(org.owner, org.id, { scopes: ['audit:read'] });
    const rows = [...(await entries(orgA)), ...(await entries(orgB)), ...(await entries(org.id)), ...(await entries(PLATFORM_CHAIN))];
    const builtIn = rows.filter((row) => isSecurityAction(row.action));
    expect(new Set(builtIn.map((row) => row.action))).toEqual(
      new Set(['auth.signup', 'auth.login.succeeded', 'auth.login.failed', 'org.created', 'invitation.sent', 'invitation.accepted', 'member.role_changed', 'api_key.issued', 'email.verified']),
    );
    for (const row of builtIn) {
      const schema = AUDIT_ACTIONS[row.action as keyof typeof AUDIT_ACTIONS].metadata;
      expect(Value.Check(schema, row.metadata), `${row.action}: ${JSON.stringify(row.metadata)}`).toBe(true);
    }
  });
});
