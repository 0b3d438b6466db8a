import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entriesAboutSubject, recordAuditEvent } from '../../src/audit/index.js';
import { verifyChain } from '../../src/audit/verify.js';
import { withTenant } from '../../src/platform/db/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { bearer, freshIp, identityClient, RELAXED_LIMITS } from '../identity/support.js';
import { invitationKit } from '../tenancy/invitation-support.js';
import type { Person } from '../tenancy/invitation-support.js';
import { chainEntries, personalOf } from './chain-support.js';

const USER_AGENT = 'PersonalFields/1.0 (test)';

describe("the audit log's personal fields", () => {
  let t: TestApp;
  let owner: Person;
  let org: string;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    const kit = invitationKit(t, identityClient(t));
    owner = await kit.person();
    org = await kit.org(owner, 'Personal Co');
  }, 60_000);
  afterAll(async () => t.close());

  async function listed(action: string) {
    const response = await t.app.inject({ method: 'GET', url: `/v1/orgs/${org}/audit?action=${action}`, headers: bearer(owner.token) });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ data: Array<{ id: string; ip: string | null; user_agent: string | null }> }>().data;
  }

  it('are stored encrypted: no IP, user agent or subject id in the clear', async () => {
    const ip = freshIp();
    const renamed = await t.app.inject({ method: 'PATCH', url: `/v1/orgs/${org}`, remoteAddress: ip, headers: { ...bearer(owner.token), 'user-agent': USER_AGENT }, payload: { name: 'Personal Co 2' } });
    expect(renamed.statusCode, renamed.body).toBe(200);

    const [shown] = await listed('org.settings_changed');
    expect(shown).toMatchObject({ ip, user_agent: USER_AGENT });
    const row = (await chainEntries(t.db.database.db, org)).find((entry) => entry.id === shown!.id)!;
    const stored = Buffer.from(row.personal!);
    expect(stored.includes(Buffer.from(ip))).toBe(false);
    expect(stored.includes(Buffer.from(USER_AGENT))).toBe(false);
    expect(row.subject_id).not.toBe(owner.id);
    expect(row.subject_id).toMatch(/^[0-9a-f]{64}$/);
  });

  it("of a data subject become unreadable when the subject is crypto-shredded, and the chain still verifies", async () => {
    const db = t.db.database.db;
    const event = (subjectId: string, email: string) =>
      withTenant(db, org, (trx) =>
        recordAuditEvent(trx, { realm: 'user', tenantId: org, principalId: owner.id, action: 'invitation.sent', ip: '198.51.100.7', userAgent: USER_AGENT, metadata: { invitation_id: randomUUID(), role: 'member', email }, subjectId, at: new Date() }),
      );
    await event('guest-erased', 'erased@example.com');
    await event('guest-kept', 'kept@example.com');
    const bySubject = async () => {
      const rows = (await chainEntries(t.db.database.db, org)).filter((row) => row.action === 'invitation.sent').slice(-2);
      return Promise.all(rows.map((row) => personalOf(t, row)));
    };
    expect(await bySubject()).toEqual([
      { email: 'erased@example.com', ip: '198.51.100.7', user_agent: USER_AGENT },
      { email: 'kept@example.com', ip: '198.51.100.7', user_agent: USER_AGENT },
    ]);

    // The entries about a subject are found by its blind index (an access request's audit part).
    const about = await withTenant(db, org, (trx) => entriesAboutSubject(trx, org, { type: 'data_subject', id: 'guest-kept' }, { afterSeq: -1, limit: 10 }));
    expect(about.map((entry) => entry.action)).toEqual(['invitation.sent']);
    expect(about[0]).toMatchObject({ ip: '198.51.100.7', user_agent: USER_AGENT });

    await withTenant(db, org, (trx) => t.app.vault.shredSubject(trx, org, 'guest-erased', null));

    expect(await bySubject()).toEqual([{}, { email: 'kept@example.com', ip: '198.51.100.7', user_agent: USER_AGENT }]);
    const [kept, erased] = await listed('invitation.sent');
    expect(erased).toMatchObject({ ip: null, user_agent: null });
    expect(kept).toMatchObject({ ip: '198.51.100.7' });
    expect(await verifyChain(db, org)).toMatchObject({ valid: true });
  });

  it("of a data subject are not under a Rampart user's key, even when the names are alike", async () => {
    const db = t.db.database.db;
    await withTenant(db, org, (trx) =>
      recordAuditEvent(trx, { realm: 'user', tenantId: org, principalId: owner.id, action: 'org.settings_changed', ip: '203.0.113.9', userAgent: USER_AGENT, metadata: { before: {}, after: {} }, at: new Date() }),
    );
    // A host subject named like the owner's user id is someone else: shredding it leaves the owner's fields.
    await withTenant(db, org, (trx) => t.app.vault.shredSubject(trx, org, owner.id, null));
    const [latest] = await listed('org.settings_changed');
    expect(latest).toMatchObject({ ip: '203.0.113.9' });
  });
});
