/**
 * Data-subject requests over HTTP: intake, deadlines and extensions, status with history, lists
 * with filters, and who may do what (roles, API key scopes, other tenants).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../helpers/clock.js';
import { errorCode } from '../identity/support.js';
import { dsrClient, usePrivacyApp } from './dsr-support.js';

const DAY = 86_400_000;
const clock = new FakeClock('2026-03-02T09:00:00Z');
const ctx = usePrivacyApp({}, { clock });

describe('data-subject requests', () => {
  it('receives a request due 30 days on, with its history, and audits it without the subject id in the metadata', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const subject = `guest-${randomUUID()}`;
    const created = await api.request(org.owner.token, org.id, { type: 'access', subject_id: subject });
    expect(created).toMatchObject({ type: 'access', subject_id: subject, status: 'received' });
    expect(new Date(created.due_at).getTime() - new Date(created.created_at).getTime()).toBe(30 * DAY);

    const detail = await api.getRequest(org.member.token, org.id, created.id);
    expect(detail.statusCode).toBe(200);
    expect(detail.json<{ history: Array<{ event: string }> }>().history.map((entry) => entry.event)).toEqual(['received']);

    const audit = await api.call(org.owner.token, 'GET', `/v1/orgs/${org.id}/audit?action=dsr.created`);
    const events = audit.json<{ data: Array<{ metadata: Record<string, unknown> }> }>().data;
    expect(events[0]!.metadata).toEqual({ request_id: created.id, type: 'access', due_at: created.due_at });
    expect(JSON.stringify(events)).not.toContain(subject);
  });

  it('refuses an unknown type, a missing subject, extra fields and corrections outside rectification (400, nothing created)', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    for (const body of [
      { type: 'forget_me', subject_id: 's-1' },
      { type: 'access' },
      { type: 'access', subject_id: '' },
      { type: 'access', subject_id: 's-1', admin: true },
      { type: 'access', subject_id: 's-1', corrections: [{ collection: 'guests', key: 'g1', data: {} }] },
      { type: 'rectification', subject_id: 's-1' },
      { type: 'objection', subject_id: 's-1', email: 'not an address' },
    ]) {
      const response = await api.create(org.owner.token, org.id, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(errorCode(response)).toMatch(/invalid/);
    }
    expect((await api.listRequests(org.owner.token, org.id)).json<{ data: unknown[] }>().data).toHaveLength(0);
  });

  it('answers 409 to a second open request of the same type for the same subject, and accepts it once the first is closed', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const first = await api.request(org.owner.token, org.id, { type: 'access', subject_id: 'dup-1' });
    const again = await api.create(org.owner.token, org.id, { type: 'access', subject_id: 'dup-1' });
    expect(again.statusCode).toBe(409);
    expect(errorCode(again)).toBe('duplicate');
    // Another type, or another subject, is a request of its own.
    await api.request(org.owner.token, org.id, { type: 'portability', subject_id: 'dup-1' });
    await api.request(org.owner.token, org.id, { type: 'access', subject_id: 'dup-2' });
    expect((await api.status(org.owner.token, org.id, first.id, { status: 'completed' })).statusCode).toBe(200);
    await api.request(org.owner.token, org.id, { type: 'access', subject_id: 'dup-1' });
  });

  it('moves through in_progress to completed or rejected (a reason required), and a closed request stays closed', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const request = await api.request(org.owner.token, org.id, { type: 'access', subject_id: 'flow-1' });
    expect((await api.status(org.owner.token, org.id, request.id, { status: 'in_progress' })).json()).toMatchObject({ status: 'in_progress' });
    const noReason = await api.status(org.owner.token, org.id, request.id, { status: 'rejected' });
    expect(noReason.statusCode).toBe(400);
    const rejected = await api.status(org.owner.token, org.id, request.id, { status: 'rejected', reason: 'Identity could not be verified' });
    expect(rejected.json()).toMatchObject({ status: 'rejected', rejection_reason: 'Identity could not be verified' });
    expect((await api.status(org.owner.token, org.id, request.id, { status: 'completed' })).statusCode).toBe(409);
    const history = (await api.getRequest(org.owner.token, org.id, request.id)).json<{ history: Array<{ event: string; actor: { id: string } }> }>().history;
    expect(history.map((entry) => entry.event)).toEqual(['received', 'in_progress', 'rejected']);
    expect(history.every((entry) => entry.actor.id === org.owner.id)).toBe(true);
  });

  it('extends a deadline once by up to two months with a reason (Art. 12(3))', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const request = await api.request(org.owner.token, org.id, { type: 'portability', subject_id: 'ext-1' });
    expect((await api.extend(org.owner.token, org.id, request.id, { months: 3, reason: 'Complex' })).statusCode).toBe(400);
    expect((await api.extend(org.owner.token, org.id, request.id, { months: 2 })).statusCode).toBe(400);
    const extended = await api.extend(org.owner.token, org.id, request.id, { months: 2, reason: 'Several systems to search' });
    expect(extended.statusCode).toBe(200);
    const due = new Date(request.due_at);
    due.setUTCMonth(due.getUTCMonth() + 2);
    expect(extended.json()).toMatchObject({ due_at: due.toISOString(), extension_reason: 'Several systems to search' });
    expect((await api.extend(org.owner.token, org.id, request.id, { months: 1, reason: 'more' })).statusCode).toBe(409);
  });

  it('lists by status, overdue and soon-due, and pages with a cursor', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    // Keys do not expire with the clock moved by weeks; access tokens do.
    const key = await api.key(org, ['dsr:read', 'dsr:write']);
    const old = await api.request(key, org.id, { type: 'access', subject_id: 'list-old' });
    clock.advance(25 * DAY);
    const recent = await api.request(key, org.id, { type: 'access', subject_id: 'list-new' });
    clock.advance(6 * DAY);
    try {
      const overdue = (await api.listRequests(key, org.id, '?overdue=true')).json<{ data: Array<{ id: string; overdue: boolean }> }>().data;
      expect(overdue.map((request) => request.id)).toEqual([old.id]);
      expect(overdue[0]!.overdue).toBe(true);
      const soon = (await api.listRequests(key, org.id, '?due_within_days=30')).json<{ data: Array<{ id: string }> }>().data;
      expect(soon.map((request) => request.id)).toEqual([recent.id, old.id]);
      expect((await api.listRequests(key, org.id, '?status=completed')).json<{ data: unknown[] }>().data).toEqual([]);
      const first = (await api.listRequests(key, org.id, '?limit=1')).json<{ data: Array<{ id: string }>; next_cursor: string }>();
      expect(first.data[0]!.id).toBe(recent.id);
      const second = (await api.listRequests(key, org.id, `?limit=1&cursor=${first.next_cursor}`)).json<{ data: Array<{ id: string }>; next_cursor: string | null }>();
      expect(second.data[0]!.id).toBe(old.id);
      expect(second.next_cursor).toBeNull();
      expect((await api.listRequests(key, org.id, '?cursor=bogus')).statusCode).toBe(400);
      expect((await api.listRequests(key, org.id, '?status=pending')).statusCode).toBe(400);
    } finally {
      clock.advance(-31 * DAY);
    }
  });

  it('mails owners and admins before a deadline, once per request and threshold however often the job runs', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const request = await api.request(org.owner.token, org.id, { type: 'access', subject_id: 'remind-1' });
    const mailsAbout = async (to: string) =>
      (await ctx.t.db.database.db.selectFrom('mail_outbox').selectAll().execute()).filter((mail) => JSON.stringify(mail).includes(request.id) && JSON.stringify(mail).includes(to));
    clock.advance(24 * DAY);
    try {
      for (let run = 0; run < 2; run++) {
        await ctx.t.app.jobs.enqueue(ctx.t.db.database.db, 'dsr.deadline_reminders', {});
        await api.runJobs();
      }
      const admins = [org.owner.email, org.admin.email];
      for (const email of admins) expect(await mailsAbout(email)).toHaveLength(1);
      expect(await mailsAbout(org.member.email)).toHaveLength(0);
      clock.advance(5 * DAY);
      await ctx.t.app.jobs.enqueue(ctx.t.db.database.db, 'dsr.deadline_reminders', {});
      await api.runJobs();
      for (const email of admins) expect(await mailsAbout(email)).toHaveLength(2);
    } finally {
      clock.advance(-29 * DAY);
    }
  });

  it('lets owners, admins and dsr:write keys act, members only read (403), and keys without the scope nothing', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    expect((await api.create(org.member.token, org.id, { type: 'access', subject_id: 'role-1' })).statusCode).toBe(403);
    expect((await api.create(org.admin.token, org.id, { type: 'portability', subject_id: 'role-0' })).statusCode).toBe(201);
    const writer = await api.key(org, ['dsr:write']);
    const reader = await api.key(org, ['dsr:read']);
    const records = await api.key(org, ['records:read']);
    const viaKey = await api.request(writer, org.id, { type: 'access', subject_id: 'role-1' });
    expect((await api.getRequest(reader, org.id, viaKey.id)).statusCode).toBe(200);
    expect((await api.create(reader, org.id, { type: 'access', subject_id: 'role-2' })).statusCode).toBe(403);
    expect((await api.getRequest(records, org.id, viaKey.id)).statusCode).toBe(403);
    expect((await api.status(org.member.token, org.id, viaKey.id, { status: 'completed' })).statusCode).toBe(403);
    const detail = (await api.getRequest(org.member.token, org.id, viaKey.id)).json<{ history: Array<{ actor: { type: string } }> }>();
    expect(detail.history[0]!.actor.type).toBe('api_key');
  });

  it("answers 404 for another org's request, an unknown id and an org the caller is not in", async () => {
    const api = dsrClient(ctx.t);
    const [a, b] = [await api.orgWithGrace(), await api.orgWithGrace()];
    const request = await api.request(a.owner.token, a.id, { type: 'access', subject_id: 'tenant-1' });
    expect((await api.getRequest(b.owner.token, b.id, request.id)).statusCode).toBe(404);
    expect((await api.getRequest(b.owner.token, a.id, request.id)).statusCode).toBe(404);
    const bKey = await api.key(b, ['dsr:read', 'dsr:write']);
    expect((await api.getRequest(bKey, a.id, request.id)).statusCode).toBe(401);
    expect((await api.status(b.owner.token, b.id, request.id, { status: 'completed' })).statusCode).toBe(404);
    expect((await api.getRequest(a.owner.token, a.id, randomUUID())).statusCode).toBe(404);
    expect((await api.getRequest(a.owner.token, a.id, 'not-a-uuid')).statusCode).toBe(400);
  });
});
