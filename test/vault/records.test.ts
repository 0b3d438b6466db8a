import { describe, expect, it } from 'vitest';
import { useVaultApp, vaultClient } from './support.js';

describe('vault records', () => {
  const state = useVaultApp();

  it('round-trips a record, with and without a subject, and lists a subject\'s records', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    const token = org.admin.token;
    const created = await api.put(token, org.id, 'guests', 'g-1', { data: { name: 'Ada', rooms: [1, 2] }, subject_id: 'cust-1', category: 'contact' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ collection: 'guests', key: 'g-1', data: { name: 'Ada', rooms: [1, 2] }, subject_id: 'cust-1', category: 'contact' });
    const replaced = await api.put(token, org.id, 'guests', 'g-1', { data: { name: 'Ada L.' }, subject_id: 'cust-1', category: 'contact' });
    expect(replaced.statusCode).toBe(200);
    await api.put(token, org.id, 'guests', 'g-2', { data: { name: 'Grace' }, subject_id: 'cust-2' });
    await api.put(token, org.id, 'guests', 'g-3', { data: { note: 'no subject' } });

    const read = await api.get(org.member.token, org.id, 'guests', 'g-1');
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ data: { name: 'Ada L.' }, subject_id: 'cust-1', category: 'contact' });
    const plain = await api.get(token, org.id, 'guests', 'g-3');
    expect(plain.json()).toMatchObject({ data: { note: 'no subject' }, subject_id: null, category: 'other' });

    const ofSubject = await api.list(token, org.id, 'guests', '?subject_id=cust-2');
    expect(ofSubject.json<{ data: Array<{ key: string }> }>().data.map((record) => record.key)).toEqual(['g-2']);

    const page1 = await api.list(token, org.id, 'guests', '?limit=2');
    const body1 = page1.json<{ data: Array<{ key: string }>; next_cursor: string }>();
    expect(body1.data.map((record) => record.key)).toEqual(['g-1', 'g-2']);
    const page2 = await api.list(token, org.id, 'guests', `?limit=2&cursor=${body1.next_cursor}`);
    expect(page2.json()).toMatchObject({ data: [{ key: 'g-3' }], next_cursor: null });

    expect((await api.remove(token, org.id, 'guests', 'g-3')).statusCode).toBe(204);
    expect((await api.get(token, org.id, 'guests', 'g-3')).statusCode).toBe(404);
    expect((await api.remove(token, org.id, 'guests', 'g-3')).statusCode).toBe(404);
  });

  it('never logs the subject id of a listing', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    await api.list(org.admin.token, org.id, 'guests', '?subject_id=logged-subject-7781');
    expect(state.t.rawLogs()).not.toContain('logged-subject-7781');
  });

  it('audits writes, deletes and reads of records with a subject, without data', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    await api.put(org.admin.token, org.id, 'visits', 'v1', { data: { secret_marker: 'audit-data-3141' }, subject_id: 'audited-subject-2718' });
    await api.get(org.admin.token, org.id, 'visits', 'v1');
    await api.put(org.admin.token, org.id, 'visits', 'v2', { data: { x: 1 } });
    await api.get(org.admin.token, org.id, 'visits', 'v2');
    await api.remove(org.admin.token, org.id, 'visits', 'v2');
    const events = await state.t.db.database.db.selectFrom('security_events').select(['action', 'metadata']).where('action', 'like', 'record.%').execute();
    const mine = events.filter((event) => JSON.stringify(event.metadata).includes(org.id));
    expect(mine.map((event) => event.action).sort()).toEqual(['record.deleted', 'record.read', 'record.written', 'record.written']);
    const dump = JSON.stringify(mine);
    expect(dump).not.toContain('audit-data-3141');
    expect(dump).not.toContain('audited-subject-2718');
  });
});
