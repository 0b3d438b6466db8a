import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { RETENTION_JOB } from '../../src/privacy/retention/retention.service.js';
import { FakeClock } from '../helpers/clock.js';
import { errorCode } from '../identity/support.js';
import { privacyClient, runJob, usePrivacyApp } from './consent-support.js';

const DAY = 86_400_000;

describe('retention', () => {
  const clock = new FakeClock('2026-03-01T10:00:00Z');
  const state = usePrivacyApp(clock);

  async function keysOf(orgId: string) {
    return withTenant(state.t.db.database.db, orgId, async (trx) => ({
      records: (await trx.selectFrom('vault_records').select(['collection', 'record_key']).orderBy('collection').orderBy('record_key').execute()).map((row) => `${row.collection}/${row.record_key}`),
      files: (await trx.selectFrom('vault_files').select('file_key').orderBy('file_key').execute()).map((row) => row.file_key),
    }));
  }

  it('deletes expired records and files by the org default and its overrides, never held ones, with one audit entry per run, idempotently', async () => {
    clock.set('2026-03-01T10:00:00Z');
    const api = privacyClient(state.t);
    const org = await api.org();
    const bystander = await api.org();
    const owner = org.owner.token;
    const settings = await api.settings(org.admin.token, org.id, { retention: { collections: { contracts: 400 }, categories: { health: 30 } } });
    expect(settings.statusCode, settings.body).toBe(200);
    for (const [collection, key, category] of [
      ['guests', 'old-1', 'contact'],
      ['guests', 'old-2', 'contact'],
      ['guests', 'held', 'contact'],
      ['contracts', 'c-1', 'financial'],
      ['visits', 'v-health', 'health'],
    ] as const) {
      expect((await api.put(owner, org.id, collection, key, { data: { n: key }, subject_id: `s-${key}`, category })).statusCode).toBe(201);
    }
    await api.put(owner, bystander.id, 'guests', 'theirs', { data: { n: 1 } });
    expect((await api.putFile(owner, org.id, 'scan-old.pdf', Buffer.from('%PDF old'))).statusCode).toBe(201);
    expect((await api.putFile(owner, org.id, 'scan-held.pdf', Buffer.from('%PDF held'))).statusCode).toBe(201);
    expect((await api.as(owner, 'POST', `/v1/orgs/${org.id}/legal-holds`, { collection: 'guests', key: 'held', reason: 'Litigation 2026-17' })).statusCode).toBe(201);
    expect((await api.as(owner, 'POST', `/v1/orgs/${org.id}/legal-holds`, { collection: '@files', key: 'scan-held.pdf', reason: 'Litigation 2026-17' })).statusCode).toBe(201);

    // 40 days on: only the health record (30 days) has expired.
    clock.advance(40 * DAY);
    await runJob(state.t, RETENTION_JOB);
    expect((await keysOf(org.id)).records).not.toContain('visits/v-health');
    expect((await keysOf(org.id)).records).toContain('guests/old-1');

    // 91 days after the writes: the org default (90) has passed; contracts keep 400, held ones stay.
    clock.advance(51 * DAY);
    const blobsBefore = await readdir(join(state.fileDir, org.id));
    await runJob(state.t, RETENTION_JOB);
    const after = await keysOf(org.id);
    expect(after.records).toEqual(['contracts/c-1', 'guests/held']);
    expect(after.files).toEqual(['scan-held.pdf']);
    expect((await readdir(join(state.fileDir, org.id))).length).toBe(blobsBefore.length - 1);
    expect((await keysOf(bystander.id)).records).toEqual([]);

    const entries = await api.auditOf(org.id, 'retention.applied');
    expect(entries.map((entry) => entry.metadata)).toEqual([
      expect.objectContaining({ run_on: '2026-04-10', records_deleted: 1, files_deleted: 0, held: 0 }),
      expect.objectContaining({ run_on: '2026-05-31', records_deleted: 2, files_deleted: 1, held: 1 }),
    ]);
    expect(entries.every((entry) => entry.actor_type === 'system')).toBe(true);

    // The same day again: nothing deleted, no second entry.
    await runJob(state.t, RETENTION_JOB);
    expect(await api.auditOf(org.id, 'retention.applied')).toHaveLength(2);
    expect((await keysOf(org.id)).records).toEqual(['contracts/c-1', 'guests/held']);
  });

  it('resumes a run a crash interrupted, adding to its counts, with still one entry', async () => {
    clock.set('2026-07-01T10:00:00Z');
    const api = privacyClient(state.t);
    const org = await api.org();
    for (const key of ['a', 'b', 'c']) await api.put(org.owner.token, org.id, 'guests', key, { data: { key } });
    clock.advance(100 * DAY);
    const runOn = clock.now().toISOString().slice(0, 10);
    // What a crashed run leaves: its row, started, with the batches it committed counted, not finished.
    await withTenant(state.t.db.database.db, org.id, async (trx) => {
      await trx.insertInto('retention_runs').values({ tenant_id: org.id, run_on: runOn, started_at: clock.now(), records_deleted: 5 }).execute();
      await trx.deleteFrom('vault_records').where('record_key', '=', 'a').execute();
    });
    await runJob(state.t, RETENTION_JOB);
    const entries = await api.auditOf(org.id, 'retention.applied');
    expect(entries.map((entry) => entry.metadata)).toEqual([expect.objectContaining({ run_on: runOn, records_deleted: 7, files_deleted: 0 })]);
    expect((await keysOf(org.id)).records).toEqual([]);
  });
});

describe('legal holds', () => {
  const clock = new FakeClock('2026-03-01T10:00:00Z');
  const state = usePrivacyApp(clock);

  it('are for owners only, audited with the reason kept as personal data, and 404 across tenants', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    const stranger = await api.org();
    const url = `/v1/orgs/${org.id}/legal-holds`;
    const hold = { collection: 'guests', key: 'g-1', reason: 'Claim by Jane Roe' };
    expect((await api.as(org.admin.token, 'POST', url, hold)).statusCode).toBe(403);
    expect((await api.as(org.member.token, 'GET', url)).statusCode).toBe(403);
    const key = await api.key(org, ['records:write', 'records:read']);
    expect((await api.as(key, 'POST', url, hold)).statusCode).toBe(403);
    expect((await api.as(stranger.owner.token, 'POST', url, hold)).statusCode).toBe(404);
    const set = await api.as(org.owner.token, 'POST', url, hold);
    expect(set.statusCode, set.body).toBe(201);
    expect(set.json()).toMatchObject({ collection: 'guests', key: 'g-1', held_by: org.owner.id });
    expect(errorCode(await api.as(org.owner.token, 'POST', url, hold))).toBe('already_held');
    expect((await api.as(org.owner.token, 'GET', url)).json()).toMatchObject({ data: [{ collection: 'guests', key: 'g-1' }] });
    expect((await api.as(org.owner.token, 'POST', url, { ...hold, key: '../etc' })).statusCode).toBe(400);
    expect((await api.as(org.owner.token, 'POST', url, { ...hold, reason: '' })).statusCode).toBe(400);
    expect((await api.as(org.owner.token, 'POST', url, { ...hold, reason: 'x'.repeat(501) })).statusCode).toBe(400);
    expect((await api.as(stranger.owner.token, 'DELETE', `${url}/guests/g-1`)).statusCode).toBe(404);
    expect((await api.as(org.admin.token, 'DELETE', `${url}/guests/g-1`)).statusCode).toBe(403);
    expect((await api.as(org.owner.token, 'DELETE', `${url}/guests/g-1`)).statusCode).toBe(204);
    expect((await api.as(org.owner.token, 'DELETE', `${url}/guests/g-1`)).statusCode).toBe(404);
    const [setEntry] = await api.auditOf(org.id, 'legal_hold.set');
    expect(setEntry!.metadata).toEqual({ collection: 'guests', key: 'g-1' });
    expect(JSON.stringify(setEntry)).not.toContain('Jane Roe');
    expect(await api.auditOf(org.id, 'legal_hold.released')).toHaveLength(1);
  });
});
