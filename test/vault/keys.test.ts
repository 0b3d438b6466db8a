import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { PLATFORM_CHAIN } from '../../src/audit/index.js';
import { keysVerb } from '../../src/cli/verbs/keys.verb.js';
import { withTenant } from '../../src/platform/db/index.js';
import { parseHeader } from '../../src/vault/envelope.js';
import { readErasureLedger, replayErasureLedger, REWRAP_JOB } from '../../src/vault/index.js';
import { systemClock } from '../../src/platform/clock.js';
import { TEST_ROOT_KEY } from '../helpers/app.js';
import { drainJobs } from '../identity/support.js';
import { chainEntries } from '../audit/chain-support.js';
import { useVaultApp, vaultClient } from './support.js';

describe('vault keys: rotation, rewrap and crypto-shredding', () => {
  const state = useVaultApp();
  const dataKeys = (orgId: string) =>
    state.t.db.database.db.selectFrom('data_keys').select(['key_id', 'kek_version', 'subject_index', 'destroyed_at', 'wrapped_key']).where('tenant_id', '=', orgId).execute();

  it('reads old and new data after a rotation, and a rewrap moves data keys without touching ciphertexts', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    const token = org.admin.token;
    await api.put(token, org.id, 'people', 'before', { data: { v: 'old' }, subject_id: 's1' });
    await api.put(token, org.id, 'people', 'plain', { data: { v: 'tenant' } });
    const sealedBefore = await state.t.db.database.db.selectFrom('vault_records').select(['record_key', 'data_sealed']).where('tenant_id', '=', org.id).orderBy('record_key').execute();

    expect(await state.t.app.vault.rotateTenantKey(org.id)).toBe(2);
    await api.put(token, org.id, 'people', 'after', { data: { v: 'new' }, subject_id: 's2' });
    expect((await api.get(token, org.id, 'people', 'before')).json()).toMatchObject({ data: { v: 'old' } });
    expect((await api.get(token, org.id, 'people', 'after')).json()).toMatchObject({ data: { v: 'new' } });
    const after = await state.t.db.database.db.selectFrom('vault_records').select('data_sealed').where('tenant_id', '=', org.id).where('record_key', '=', 'after').executeTakeFirstOrThrow();
    expect(parseHeader(after.data_sealed).kekVersion).toBe(2);
    // The records' keys (the org's audit entries have keys of their own, rotated alike).
    const recordKeys = async () => {
      const indexes = ['s1', 's2'].map((subject) => state.t.app.vault.subjectIndex(org.id, subject));
      return (await dataKeys(org.id)).filter((key) => key.subject_index === null || indexes.some((index) => index.equals(Buffer.from(key.subject_index!))));
    };
    expect((await recordKeys()).map((key) => key.kek_version).sort()).toEqual([1, 1, 2]);

    await state.t.app.jobs.enqueue(state.t.db.database.db, REWRAP_JOB, { tenant_id: org.id });
    await drainJobs(state.t);
    expect((await recordKeys()).map((key) => key.kek_version)).toEqual([2, 2, 2]);
    expect((await dataKeys(org.id)).every((key) => key.kek_version === 2)).toBe(true);
    const sealedAfter = await state.t.db.database.db.selectFrom('vault_records').select(['record_key', 'data_sealed']).where('tenant_id', '=', org.id).where('record_key', '!=', 'after').orderBy('record_key').execute();
    expect(sealedAfter).toEqual(sealedBefore);
    expect((await api.get(token, org.id, 'people', 'before')).json()).toMatchObject({ data: { v: 'old' } });
    expect((await api.get(token, org.id, 'people', 'plain')).json()).toMatchObject({ data: { v: 'tenant' } });
  });

  it('rotates and rewraps through `rampart keys`, which still rotates the signing key by default', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    await api.put(org.admin.token, org.id, 'people', 'p', { data: { v: 1 }, subject_id: 's' });
    const context = (positionals: string[], options: Record<string, string | boolean>) => ({
      config: state.t.config,
      database: state.t.db.database,
      rootKey: Buffer.from(TEST_ROOT_KEY, 'base64'),
      input: { positionals, options },
      report: { progress: () => ({ update: () => undefined, stop: () => undefined }), note: () => undefined },
      verbs: [],
      host: { kind: 'direct' as const },
      signal: new AbortController().signal,
    });
    const rotated = await keysVerb.run(context(['rotate'], { tenant: org.id }));
    expect(rotated).toEqual({ purpose: 'tenant-kek', rotated: [{ tenant: org.id, version: 2 }] });
    const all = await keysVerb.run(context(['rotate'], { all: true }));
    expect(all.purpose === 'tenant-kek' && all.rotated.find((entry) => entry.tenant === org.id)).toEqual({ tenant: org.id, version: 3 });
    const status = await keysVerb.run(context(['rewrap'], { tenant: org.id, status: true }));
    const underOldKek = (await dataKeys(org.id)).filter((key) => key.kek_version === 1 && key.destroyed_at === null).length;
    expect(status).toEqual({ purpose: 'rewrap', job: null, stale: [{ tenant: org.id, stale: underOldKek }] });
    const enqueued = await keysVerb.run(context(['rewrap'], { tenant: org.id }));
    expect(enqueued.purpose === 'rewrap' && enqueued.job).toBeTypeOf('number');
    await drainJobs(state.t);
    expect(await keysVerb.run(context(['rewrap'], { tenant: org.id, status: true }))).toEqual({ purpose: 'rewrap', job: null, stale: [] });
    expect((await api.get(org.admin.token, org.id, 'people', 'p')).json()).toMatchObject({ data: { v: 1 } });
    const signing = await keysVerb.run(context(['rotate'], {}));
    expect(signing.purpose).toBe('access-token');

    // Each rotation is in the audit log: the org's key in its chain, the signing key in the platform chain.
    const orgChain = await chainEntries(state.t.db.database.db, org.id);
    expect(orgChain.filter((entry) => entry.action === 'keys.tenant_key_rotated').map((entry) => entry.metadata)).toEqual([{ version: 2 }, { version: 3 }]);
    const platformChain = await chainEntries(state.t.db.database.db, PLATFORM_CHAIN);
    expect(platformChain.at(-1)).toMatchObject({ action: 'keys.signing_key_rotated', actor_type: 'system', metadata: { kid: signing.purpose === 'access-token' ? signing.kid : null } });
    await expect(keysVerb.run(context(['rotate'], { tenant: 'not-a-uuid' }))).rejects.toThrow(/UUID/);
  });

  it('crypto-shreds a subject: their records and files become unreadable, others are untouched, the ledger holds no personal data', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    const token = org.admin.token;
    const erased = 'erase-me-4242@example.test';
    await api.put(token, org.id, 'people', 'gone', { data: { name: 'Erased Person' }, subject_id: erased });
    await api.put(token, org.id, 'notes', 'gone-too', { data: { n: 1 }, subject_id: erased });
    await api.put(token, org.id, 'people', 'kept', { data: { name: 'Kept Person' }, subject_id: 'kept-subject' });
    await api.put(token, org.id, 'people', 'tenant', { data: { n: 2 } });
    expect((await api.putFile(token, org.id, 'scan.pdf', Buffer.from('%PDF erased'), { 'x-rampart-subject-id': erased })).statusCode).toBe(201);
    expect((await api.putFile(token, org.id, 'kept.pdf', Buffer.from('%PDF kept'), { 'x-rampart-subject-id': 'kept-subject' })).statusCode).toBe(201);

    const before = await dataKeys(org.id);
    const result = await withTenant(state.t.db.database.db, org.id, (trx) => state.t.app.vault.shredSubject(trx, org.id, erased, 'req-1'));
    expect(result).toMatchObject({ destroyedKeys: 1 });

    for (const [collection, key] of [['people', 'gone'], ['notes', 'gone-too']] as const) {
      const response = await api.get(token, org.id, collection, key);
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ error: { code: 'erased' } });
    }
    expect((await api.getFile(token, org.id, 'scan.pdf')).json()).toMatchObject({ error: { code: 'erased' } });
    expect((await api.list(token, org.id, 'people', `?subject_id=${encodeURIComponent(erased)}`)).json()).toEqual({ data: [], next_cursor: null });
    expect((await api.get(token, org.id, 'people', 'kept')).json()).toMatchObject({ data: { name: 'Kept Person' } });
    expect((await api.get(token, org.id, 'people', 'tenant')).json()).toMatchObject({ data: { n: 2 } });
    expect((await api.getFile(token, org.id, 'kept.pdf')).body).toBe('%PDF kept');

    const destroyed = (await dataKeys(org.id)).filter((key) => key.destroyed_at !== null);
    expect(destroyed).toHaveLength(1);
    expect(destroyed[0]!.wrapped_key.every((byte) => byte === 0)).toBe(true);
    const ledger = await state.t.db.database.db.selectFrom('erasure_ledger').selectAll().where('tenant_id', '=', org.id).execute();
    expect(ledger).toHaveLength(1);
    expect(ledger[0]!.request_id).toBe('req-1');
    expect(Buffer.from(ledger[0]!.subject_index).equals(state.t.app.vault.subjectIndex(org.id, erased))).toBe(true);
    const ledgerText = (await sql<{ row: string }>`select e::text as row from erasure_ledger e where tenant_id = ${org.id}`.execute(state.t.db.database.db)).rows[0]!.row;
    expect(ledgerText).not.toContain('erase-me');
    expect(ledgerText).not.toContain(Buffer.from(erased).toString('hex'));


    // A restore from a backup taken before the erasure brings the key and an older ledger back;
    // replaying the ledger kept outside the backups destroys it again, and only it.
    const entries = (await readErasureLedger(state.t.db.database.db)).filter((entry) => entry.tenantId === org.id);
    const db = state.t.db.database.db;
    for (const key of before) await db.updateTable('data_keys').set({ wrapped_key: Buffer.from(key.wrapped_key), destroyed_at: null }).where('key_id', '=', key.key_id).execute();
    await db.deleteFrom('erasure_ledger').where('tenant_id', '=', org.id).execute();
    expect((await api.get(token, org.id, 'people', 'gone')).statusCode).toBe(200);
    expect(await replayErasureLedger(db, entries, systemClock)).toBe(1);
    expect((await api.get(token, org.id, 'people', 'gone')).json()).toMatchObject({ error: { code: 'erased' } });
    expect(await db.selectFrom('erasure_ledger').select('entry_id').where('tenant_id', '=', org.id).execute()).toHaveLength(1);

    // The subject may come back as a new customer: a new key, which a later replay leaves alone.
    expect((await api.put(token, org.id, 'people', 'back', { data: { again: true }, subject_id: erased })).statusCode).toBe(201);
    expect(await replayErasureLedger(db, entries, systemClock)).toBe(0);
    expect((await api.get(token, org.id, 'people', 'back')).json()).toMatchObject({ data: { again: true } });
    expect((await api.get(token, org.id, 'people', 'gone')).statusCode).toBe(404);
  });

  it("destroys a subject's key made by a node whose clock runs ahead", async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    await api.put(org.admin.token, org.id, 'people', 'ahead', { data: { n: 1 }, subject_id: 'subject-ahead' });
    const db = state.t.db.database.db;
    await sql`update data_keys set created_at = now() + interval '1 hour' where tenant_id = ${org.id} and subject_index = ${state.t.app.vault.subjectIndex(org.id, 'subject-ahead')}`.execute(db);
    const result = await withTenant(db, org.id, (trx) => state.t.app.vault.shredSubject(trx, org.id, 'subject-ahead', null));
    expect(result).toMatchObject({ destroyedKeys: 1 });
    expect((await api.get(org.admin.token, org.id, 'people', 'ahead')).json()).toMatchObject({ error: { code: 'erased' } });
  });
});
