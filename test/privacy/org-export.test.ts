import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { ORG_EXPORT_EXPIRY_JOB } from '../../src/privacy/org-export/org-export.service.js';
import { FakeClock } from '../helpers/clock.js';
import { drainJobs, errorCode, identityClient, PASSWORD } from '../identity/support.js';
import { privacyClient, runJob, usePrivacyApp } from './consent-support.js';
import { ndjson, readZip } from './org-export-support.js';

const MINUTE = 60_000;
// The free plan keeps its default gating elsewhere; here every plan may export.
const ALL_PLANS_EXPORT = { RAMPART_PLANS: '{"free":{"disabled":[]}}' };

describe('whole-org export', () => {
  const clock = new FakeClock('2026-03-01T10:00:00Z');
  const state = usePrivacyApp(clock, ALL_PLANS_EXPORT);

  async function freshToken(email: string): Promise<string> {
    const response = await identityClient(state.t).login(email);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ access_token: string }>().access_token;
  }

  it('builds a ZIP of all org data, sealed at rest, downloadable by the owner for 24 hours with each download audited', async () => {
    clock.set('2026-03-01T10:00:00Z');
    const api = privacyClient(state.t);
    const org = await api.org();
    const owner = org.owner.token;
    await api.put(owner, org.id, 'guests', 'g-1', { data: { name: 'Ada Lovelace' }, subject_id: 'cust-1', category: 'contact' });
    await api.put(owner, org.id, 'guests', 'g-2', { data: { name: 'Erased Person' }, subject_id: 'cust-erased' });
    await api.put(owner, org.id, 'notes', 'n-1', { data: { text: 'no subject' } });
    await api.putFile(owner, org.id, 'scan.pdf', Buffer.from('%PDF-1.7 the scanned contract'));
    await api.as(owner, 'POST', `/v1/orgs/${org.id}/consents`, { subject_id: 'cust-1', purposes: { necessary: true, analytics: true }, source: 'signup', policy_version: '1' });
    const key = await api.key(org, ['records:read']);
    const dsr = await api.as(owner, 'POST', `/v1/orgs/${org.id}/dsr`, { type: 'access', subject_id: 'cust-1' });
    expect(dsr.statusCode, dsr.body).toBe(201);
    await api.settings(org.admin.token, org.id, { processing: { guests: { purposes: ['Event check-in'], legal_basis: 'contract' } } });
    // An erasure flagged but not yet carried out: the subject is already gone from exports.
    await withTenant(state.t.db.database.db, org.id, (trx) =>
      trx.insertInto('subject_flags').values({ tenant_id: org.id, subject_index: state.t.app.vault.subjectIndex(org.id, 'cust-erased'), erased_at: clock.now(), restricted_at: null, objected_at: null, updated_at: clock.now() }).execute(),
    );

    const requested = await api.as(owner, 'POST', `/v1/orgs/${org.id}/exports`, {});
    expect(requested.statusCode, requested.body).toBe(202);
    const { id } = requested.json<{ id: string }>();
    const url = `/v1/orgs/${org.id}/exports/${id}`;
    const pending = await api.as(owner, 'GET', url);
    expect(pending.statusCode).toBe(202);
    expect(pending.json()).toMatchObject({ id, status: 'pending' });

    await drainJobs(state.t);
    const download = await api.as(owner, 'GET', url);
    expect(download.statusCode, download.body.slice(0, 300)).toBe(200);
    expect(download.headers['content-type']).toBe('application/zip');
    expect(download.headers['content-disposition']).toBe(`attachment; filename="rampart-org-export-${id}.zip"`);
    const zip = readZip(download.rawPayload);
    expect([...zip.keys()].sort()).toEqual([
      'audit/checkpoints.ndjson',
      'audit/entries.ndjson',
      'manifest.json',
      'organization/api_keys.json',
      'organization/legal_holds.json',
      'organization/members.json',
      'organization/roles.json',
      'organization/settings.json',
      'privacy/consents.ndjson',
      'privacy/dsr_requests.ndjson',
      'vault/files.ndjson',
      'vault/files/scan.pdf',
      'vault/records.ndjson',
    ]);
    expect(ndjson(zip.get('vault/records.ndjson')).map((record) => [record.collection, record.key, record.data, record.subject_id])).toEqual([
      ['guests', 'g-1', { name: 'Ada Lovelace' }, 'cust-1'],
      ['notes', 'n-1', { text: 'no subject' }, null],
    ]);
    expect(zip.get('vault/files/scan.pdf')!.toString()).toBe('%PDF-1.7 the scanned contract');
    expect(ndjson(zip.get('privacy/consents.ndjson'))).toEqual([expect.objectContaining({ subject_id: 'cust-1', purposes: { necessary: true, analytics: true, marketing: false } })]);
    const keys = JSON.parse(zip.get('organization/api_keys.json')!.toString()) as Array<Record<string, unknown>>;
    expect(keys).toHaveLength(1);
    expect(Object.keys(keys[0]!).sort()).toEqual(['created_at', 'created_by', 'expires_at', 'key_id', 'last_used_at', 'name', 'revoked_at', 'scopes']);
    expect(download.rawPayload.includes(Buffer.from(key.split('_')[1]!))).toBe(false);
    const members = JSON.parse(zip.get('organization/members.json')!.toString()) as Array<{ email: string; role: string }>;
    expect(members.map((member) => member.role).sort()).toEqual(['admin', 'member', 'owner']);
    expect(JSON.parse(zip.get('organization/settings.json')!.toString())).toMatchObject({ tenant_id: org.id, privacy: { processing: { guests: { legal_basis: 'contract' } } } });
    expect(ndjson(zip.get('audit/entries.ndjson')).map((entry) => entry.action)).toContain('org_export.requested');
    expect(ndjson(zip.get('privacy/dsr_requests.ndjson'))).toEqual([expect.objectContaining({ id: dsr.json<{ id: string }>().id, type: 'access', subject_id: 'cust-1', status: 'received' })]);
    expect(JSON.parse(zip.get('manifest.json')!.toString())).toMatchObject({ format: 'rampart-org-export/1', tenant_id: org.id });
    expect(download.rawPayload.includes(Buffer.from('Erased Person'))).toBe(false);

    // At rest: the vault's file cipher, not a ZIP.
    const row = await withTenant(state.t.db.database.db, org.id, (trx) => trx.selectFrom('org_exports').selectAll().where('export_id', '=', id).executeTakeFirstOrThrow());
    const blob = await readFile(join(state.fileDir, org.id, row.blob_id!));
    expect(blob.subarray(0, 2).toString('latin1')).not.toBe('PK');
    expect(blob.includes(Buffer.from('scan.pdf'))).toBe(false);
    expect(await api.auditOf(org.id, 'org_export.downloaded')).toHaveLength(1);
    await api.as(owner, 'GET', url);
    expect((await api.auditOf(org.id, 'org_export.downloaded')).map((entry) => entry.metadata)).toEqual([
      { export_id: id, size: download.rawPayload.length },
      { export_id: id, size: download.rawPayload.length },
    ]);

    // 24 hours on: 410, and the expiry job deletes the blob.
    clock.advance(24 * 60 * MINUTE + MINUTE);
    const late = await freshToken(org.owner.email);
    const expired = await api.as(late, 'GET', url);
    expect(expired.statusCode).toBe(410);
    expect(errorCode(expired)).toBe('export_expired');
    await runJob(state.t, ORG_EXPORT_EXPIRY_JOB);
    expect(await readdir(join(state.fileDir, org.id))).not.toContain(row.blob_id);
    expect(await api.auditOf(org.id, 'org_export.expired')).toHaveLength(1);
    expect((await api.as(late, 'GET', url)).statusCode).toBe(410);
  });

  it('fails cleanly when a file was tampered with: retried, then marked failed (409), no ZIP left behind', async () => {
    clock.set('2026-06-01T10:00:00Z');
    const api = privacyClient(state.t);
    const org = await api.org();
    await api.put(org.owner.token, org.id, 'guests', 'g-1', { data: { n: 1 } });
    await api.putFile(org.owner.token, org.id, 'contract.pdf', Buffer.from('%PDF '.repeat(50_000)));
    const [blobName] = await readdir(join(state.fileDir, org.id));
    const path = join(state.fileDir, org.id, blobName!);
    const blob = await readFile(path);
    blob[blob.length - 100] = blob[blob.length - 100]! ^ 0xff;
    await writeFile(path, blob);
    const { id } = (await api.as(org.owner.token, 'POST', `/v1/orgs/${org.id}/exports`, {})).json<{ id: string }>();
    for (let attempt = 0; attempt < 3; attempt++) {
      await drainJobs(state.t);
      clock.advance(60 * MINUTE);
    }
    const token = await freshToken(org.owner.email);
    const failed = await api.as(token, 'GET', `/v1/orgs/${org.id}/exports/${id}`);
    expect(failed.statusCode, failed.body).toBe(409);
    expect(errorCode(failed)).toBe('export_failed');
    expect(await readdir(join(state.fileDir, org.id))).toEqual([blobName]);
  });

  it('is for owners only: admins, members, API keys and other orgs are refused', async () => {
    clock.set('2026-04-01T10:00:00Z');
    const api = privacyClient(state.t);
    const org = await api.org();
    const stranger = await api.org();
    const url = `/v1/orgs/${org.id}/exports`;
    expect((await api.as(org.admin.token, 'POST', url, {})).statusCode).toBe(403);
    expect((await api.as(org.member.token, 'POST', url, {})).statusCode).toBe(403);
    const key = await api.key(org, ['records:read', 'audit:read', 'consent:read']);
    expect((await api.as(key, 'POST', url, {})).statusCode).toBe(403);
    expect((await api.as(stranger.owner.token, 'POST', url, {})).statusCode).toBe(404);
    const { id } = (await api.as(org.owner.token, 'POST', url, {})).json<{ id: string }>();
    expect((await api.as(org.admin.token, 'GET', `${url}/${id}`)).statusCode).toBe(403);
    expect((await api.as(stranger.owner.token, 'GET', `${url}/${id}`)).statusCode).toBe(404);
    expect((await api.as(stranger.owner.token, 'GET', `/v1/orgs/${stranger.id}/exports/${id}`)).statusCode).toBe(404);
    expect((await api.as(org.owner.token, 'GET', `${url}/not-a-uuid`)).statusCode).toBe(400);
    expect((await api.as(org.owner.token, 'GET', `${url}/00000000-0000-4000-8000-000000000000`)).statusCode).toBe(404);
    expect((await api.as(org.owner.token, 'POST', url, { password: PASSWORD, extra: true })).statusCode).toBe(400);
  });

  it('needs a step-up: a sign-in older than ten minutes must give the password again', async () => {
    clock.set('2026-05-01T10:00:00Z');
    const api = privacyClient(state.t);
    const org = await api.org();
    clock.advance(11 * MINUTE);
    const url = `/v1/orgs/${org.id}/exports`;
    const stale = await api.as(org.owner.token, 'POST', url, {});
    expect(stale.statusCode).toBe(403);
    expect(errorCode(stale)).toBe('step_up_required');
    expect((await api.as(org.owner.token, 'POST', url, { password: 'not the password at all' })).statusCode).toBeGreaterThanOrEqual(400);
    expect(await api.auditOf(org.id, 'org_export.requested')).toHaveLength(0);
    const confirmed = await api.as(org.owner.token, 'POST', url, { password: PASSWORD });
    expect(confirmed.statusCode, confirmed.body).toBe(202);
    expect(await api.auditOf(org.id, 'org_export.requested')).toHaveLength(1);
  });
});
