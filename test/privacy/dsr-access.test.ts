/**
 * Access, portability, rectification, restriction and objection over HTTP: the subject's bundle
 * holds everything kept about them (and nothing of anyone else), corrections go through the vault
 * with the old version kept only while the request is open, and flagged subjects are refused.
 */
import { describe, expect, it } from 'vitest';
import { errorCode } from '../identity/support.js';
import { dsrClient, usePrivacyApp } from './dsr-support.js';

const ctx = usePrivacyApp();

interface Bundle {
  format: string;
  subject_id: string;
  records: Array<{ collection: string; key: string; data: Record<string, unknown> }>;
  files: Array<{ key: string; download: string }>;
  processing: { restricted: boolean; objected: boolean };
  suppression: { checked: boolean; suppressed: boolean | null };
  consents: { available: boolean; data: { current: { purposes: Record<string, boolean> } | null; history: unknown[] } | null };
  audit_entries: Array<{ action: string }>;
  account: { user: { id: string; email: string } } | null;
}

describe('access and portability', () => {
  it('streams one JSON document with the records decrypted, files with their download path, audit entries and suppression status', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const key = await api.key(org, ['records:write', 'records:read', 'consent:write']);
    const subject = 'guest-access-1';
    await api.put(key, org.id, 'guests', 'a1', { data: { name: 'Ada', city: 'Ghent' }, subject_id: subject, category: 'contact' });
    await api.put(key, org.id, 'visits', 'v1', { data: { at: '2026-01-05' }, subject_id: subject });
    await api.put(key, org.id, 'guests', 'x1', { data: { name: 'Not Ada' }, subject_id: 'someone-else' });
    await api.putFile(key, org.id, 'id-card.pdf', Buffer.from('scan'), { 'x-rampart-subject-id': subject });
    await api.call(key, 'POST', `/v1/orgs/${org.id}/suppressions`, { email: 'ada@example.com' });
    const consent = await api.call(key, 'POST', `/v1/orgs/${org.id}/consents`, { subject_id: subject, purposes: { necessary: true, analytics: false, marketing: true }, source: 'signup_form', policy_version: '2026-01' });
    expect(consent.statusCode, consent.body).toBe(201);

    const request = await api.request(org.owner.token, org.id, { type: 'access', subject_id: subject, email: 'ADA@example.com ' });
    const response = await api.exportOf(org.owner.token, org.id, request.id);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-disposition']).toContain('attachment');
    const bundle = response.json<Bundle>();
    expect(bundle.format).toBe('rampart-subject-export/1');
    expect(bundle.subject_id).toBe(subject);
    expect(bundle.records.map((record) => [record.collection, record.key, record.data])).toEqual([
      ['guests', 'a1', { name: 'Ada', city: 'Ghent' }],
      ['visits', 'v1', { at: '2026-01-05' }],
    ]);
    expect(bundle.files).toEqual([expect.objectContaining({ key: 'id-card.pdf', download: `/v1/orgs/${org.id}/files/id-card.pdf` })]);
    expect((await api.call(org.owner.token, 'GET', bundle.files[0]!.download)).body).toBe('scan');
    expect(bundle.suppression).toEqual({ checked: true, suppressed: true });
    expect(bundle.consents.available).toBe(true);
    expect(bundle.consents.data?.current?.purposes).toMatchObject({ analytics: false, marketing: true });
    expect(bundle.audit_entries.map((entry) => entry.action)).toContain('dsr.created');
    expect(bundle.account).toBeNull();
    expect(response.body).not.toContain('Not Ada');
    const history = (await api.getRequest(org.owner.token, org.id, request.id)).json<{ history: Array<{ event: string; detail: Record<string, unknown> }> }>().history;
    expect(history.at(-1)).toMatchObject({ event: 'exported', detail: { records: 2, files: 1 } });
  });

  it('answers an unknown subject with an empty bundle (nothing held), and includes the account of a member who is the subject', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const nobody = await api.request(org.owner.token, org.id, { type: 'portability', subject_id: 'never-seen' });
    const empty = (await api.exportOf(org.owner.token, org.id, nobody.id)).json<Bundle>();
    expect(empty.records).toEqual([]);
    expect(empty.files).toEqual([]);
    expect(empty.suppression).toEqual({ checked: false, suppressed: null });

    const member = await api.request(org.owner.token, org.id, { type: 'access', subject_id: org.member.id });
    const bundle = (await api.exportOf(org.owner.token, org.id, member.id)).json<Bundle>();
    expect(bundle.account?.user).toMatchObject({ id: org.member.id, email: org.member.email });
    // Only what this org holds: no sessions (addresses of every device), no linked identities, and
    // only events recorded in this org, though the member signs in and acts elsewhere too.
    expect(Object.keys(bundle.account!).sort()).toEqual(['mfa_enabled', 'security_events', 'user']);
    const other = await ctx.t.app.inject({ method: 'POST', url: '/v1/orgs', headers: { authorization: `Bearer ${org.member.token}` }, payload: { name: 'Member Side Project' } });
    expect(other.statusCode, other.body).toBe(201);
    const again = (await api.exportOf(org.owner.token, org.id, (await api.request(org.owner.token, org.id, { type: 'portability', subject_id: org.member.id })).id)).json<Bundle & { account: { security_events: Array<{ metadata: { tenant_id?: string } }> } }>();
    expect(again.account.security_events.every((event) => event.metadata.tenant_id === org.id)).toBe(true);
  });

  it('refuses the export to members and keys without dsr:write, and for other types (409)', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const request = await api.request(org.owner.token, org.id, { type: 'access', subject_id: 'guarded-1' });
    const reader = await api.key(org, ['dsr:read']);
    for (const token of [org.member.token, reader]) expect((await api.exportOf(token, org.id, request.id)).statusCode).toBe(403);
    expect((await api.exportOf(org.admin.token, org.id, request.id)).statusCode).toBe(200);
    const objection = await api.request(org.owner.token, org.id, { type: 'objection', subject_id: 'guarded-1' });
    expect((await api.exportOf(org.owner.token, org.id, objection.id)).statusCode).toBe(409);
  });
});

describe('rectification', () => {
  it('applies corrections through the vault, keeps the old version while open and drops it on completion', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const key = await api.key(org, ['records:write', 'records:read']);
    await api.put(key, org.id, 'guests', 'r1', { data: { name: 'Ada Lovelase' }, subject_id: 'rect-1' });
    await api.put(key, org.id, 'guests', 'r2', { data: { name: 'Bob' }, subject_id: 'rect-2' });
    // Another subject's record, or one that does not exist, cannot be corrected by this request.
    for (const target of ['r2', 'nope']) {
      const refused = await api.create(org.owner.token, org.id, { type: 'rectification', subject_id: 'rect-1', corrections: [{ collection: 'guests', key: target, data: { name: 'x' } }] });
      expect(refused.statusCode).toBe(404);
    }
    const request = await api.request(org.owner.token, org.id, { type: 'rectification', subject_id: 'rect-1', corrections: [{ collection: 'guests', key: 'r1', data: { name: 'Ada Lovelace' } }] });
    expect((await api.applyCorrections(org.owner.token, org.id, request.id)).statusCode).toBe(200);
    expect((await api.get(key, org.id, 'guests', 'r1')).json()).toMatchObject({ data: { name: 'Ada Lovelace' }, subject_id: 'rect-1' });
    expect((await api.applyCorrections(org.owner.token, org.id, request.id)).statusCode).toBe(409);
    const open = (await api.getRequest(org.owner.token, org.id, request.id)).json<{ history: Array<{ event: string; previous?: unknown }> }>();
    expect(open.history.find((entry) => entry.event === 'rectified')?.previous).toEqual({ name: 'Ada Lovelase' });
    // The earlier version is record data: a key that may read requests but not records does not see it.
    const requestsOnly = await api.key(org, ['dsr:read']);
    const seenByKey = (await api.getRequest(requestsOnly, org.id, request.id)).json<{ history: Array<{ event: string; previous?: unknown }> }>();
    expect(seenByKey.history.find((entry) => entry.event === 'rectified')).toBeDefined();
    expect(seenByKey.history.find((entry) => entry.event === 'rectified')?.previous).toBeUndefined();
    // Once the subject asks for restriction, their earlier version is read only through the vault, with a reason.
    const restriction = await api.request(org.owner.token, org.id, { type: 'restriction', subject_id: 'rect-1' });
    const whileRestricted = (await api.getRequest(org.owner.token, org.id, request.id)).json<{ history: Array<{ event: string; previous?: unknown }> }>();
    expect(whileRestricted.history.find((entry) => entry.event === 'rectified')?.previous).toBeUndefined();
    await api.status(org.owner.token, org.id, restriction.id, { status: 'rejected', reason: 'the data is accurate' });
    expect((await api.getRequest(org.owner.token, org.id, request.id)).json<{ history: Array<{ event: string; previous?: unknown }> }>().history.find((entry) => entry.event === 'rectified')?.previous).toEqual({ name: 'Ada Lovelase' });
    await api.status(org.owner.token, org.id, request.id, { status: 'completed' });
    const closed = (await api.getRequest(org.owner.token, org.id, request.id)).json<{ history: Array<{ event: string; previous?: unknown }> }>();
    expect(closed.history.find((entry) => entry.event === 'rectified')?.previous).toBeUndefined();
  });
});

describe('restriction and objection', () => {
  it('refuses reads (403 processing_restricted) except to an owner giving a reason, which is audited; lists leave the subject out', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const key = await api.key(org, ['records:write', 'records:read']);
    await api.put(key, org.id, 'guests', 'h1', { data: { name: 'Held' }, subject_id: 'restrict-1' });
    await api.put(key, org.id, 'guests', 'h2', { data: { name: 'Free' }, subject_id: 'free-1' });
    await api.putFile(key, org.id, 'h1.pdf', Buffer.from('held'), { 'x-rampart-subject-id': 'restrict-1' });
    const request = await api.request(org.owner.token, org.id, { type: 'restriction', subject_id: 'restrict-1' });

    for (const token of [key, org.admin.token, org.member.token, org.owner.token]) {
      const refused = await api.get(token, org.id, 'guests', 'h1');
      expect(refused.statusCode).toBe(403);
      expect(errorCode(refused)).toBe('processing_restricted');
    }
    const reason = { 'x-rampart-access-reason': 'Legal claim 2026-17, counsel request' };
    expect((await api.call(org.admin.token, 'GET', `/v1/orgs/${org.id}/records/guests/h1`, undefined, reason)).statusCode).toBe(403);
    const owner = await api.call(org.owner.token, 'GET', `/v1/orgs/${org.id}/records/guests/h1`, undefined, reason);
    expect(owner.statusCode).toBe(200);
    expect((await api.call(org.owner.token, 'GET', `/v1/orgs/${org.id}/files/h1.pdf`, undefined, reason)).body).toBe('held');
    expect((await api.getFile(org.owner.token, org.id, 'h1.pdf')).statusCode).toBe(403);
    const audited = (await api.call(org.owner.token, 'GET', `/v1/orgs/${org.id}/audit?action=subject.restricted_read`)).json<{ data: Array<{ metadata: Record<string, unknown> }> }>().data;
    expect(audited.map((event) => event.metadata)).toEqual(expect.arrayContaining([{ kind: 'record', collection: 'guests', key: 'h1' }, { kind: 'file', key: 'h1.pdf' }]));
    expect((await api.list(key, org.id, 'guests')).json<{ data: Array<{ key: string }> }>().data.map((record) => record.key)).toEqual(['h2']);
    expect((await api.list(key, org.id, 'guests', '?subject_id=restrict-1')).statusCode).toBe(403);
    expect((await api.put(key, org.id, 'guests', 'h3', { data: {}, subject_id: 'restrict-1' })).statusCode).toBe(403);
    expect((await api.call(org.owner.token, 'GET', `/v1/orgs/${org.id}/records/guests/h1`, undefined, { 'x-rampart-access-reason': 'x'.repeat(501) })).statusCode).toBe(400);

    // Rejecting the request lifts the restriction.
    await api.status(org.owner.token, org.id, request.id, { status: 'rejected', reason: 'Accuracy verified with the subject' });
    expect((await api.get(key, org.id, 'guests', 'h1')).statusCode).toBe(200);
  });

  it('puts the address of an objecting subject on the suppression list and refuses further writes of their data', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const key = await api.key(org, ['records:write', 'records:read', 'consent:read']);
    await api.put(key, org.id, 'leads', 'l1', { data: { name: 'Oscar' }, subject_id: 'object-1' });
    const request = await api.request(org.owner.token, org.id, { type: 'objection', subject_id: 'object-1', email: 'Oscar@Example.com' });
    expect((await api.call(key, 'POST', `/v1/orgs/${org.id}/suppressions/check`, { email: 'oscar@example.com' })).json()).toEqual({ suppressed: true });
    const write = await api.put(key, org.id, 'leads', 'l1', { data: { name: 'Oscar', score: 9 }, subject_id: 'object-1' });
    expect(write.statusCode).toBe(403);
    expect(errorCode(write)).toBe('processing_restricted');
    await api.status(org.owner.token, org.id, request.id, { status: 'rejected', reason: 'Compelling legitimate grounds' });
    expect((await api.call(key, 'POST', `/v1/orgs/${org.id}/suppressions/check`, { email: 'oscar@example.com' })).json()).toEqual({ suppressed: false });
    expect((await api.put(key, org.id, 'leads', 'l1', { data: { name: 'Oscar', score: 9 }, subject_id: 'object-1' })).statusCode).toBe(200);
  });
});
