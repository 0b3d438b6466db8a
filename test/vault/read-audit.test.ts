import { describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { chainEntries } from '../audit/chain-support.js';
import { FakeClock } from '../helpers/clock.js';
import { bearer, drainJobs } from '../identity/support.js';
import { useVaultApp, vaultClient } from './support.js';
import type { Org } from './support.js';

const clock = new FakeClock('2026-03-02T09:10:00Z');

describe('auditing reads of a collection: every read, a sample, or hourly counts', () => {
  const state = useVaultApp({}, { clock });

  const setting = (token: string, org: string, collection: string, body?: unknown) =>
    state.t.app.inject({
      method: body === undefined ? 'GET' : 'PUT',
      url: `/v1/orgs/${org}/vault/collections/${collection}/read-audit`,
      headers: bearer(token),
      ...(body === undefined ? {} : { payload: body as object }),
    });
  const reads = async (org: Org, collection: string) =>
    (await chainEntries(state.t.db.database.db, org.id)).filter((entry) => entry.action === 'record.read' && (entry.metadata as { collection: string }).collection === collection);

  async function withRecords(org: Org, collection: string, count: number): Promise<void> {
    const api = vaultClient(state.t);
    for (let index = 0; index < count; index++) {
      expect((await api.put(org.admin.token, org.id, collection, `r-${index}`, { data: { n: index }, subject_id: `guest-${index}` })).statusCode).toBe(201);
    }
  }

  it('audits every read by default; only admins change the mode, with a valid body, and the change is audited', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    await withRecords(org, 'guests', 1);
    expect((await setting(org.member.token, org.id, 'guests')).json()).toEqual({ read_audit: 'every' });
    await api.get(org.member.token, org.id, 'guests', 'r-0');
    expect(await reads(org, 'guests')).toHaveLength(1);

    expect((await setting(org.member.token, org.id, 'guests', { read_audit: 'aggregated' })).statusCode).toBe(403);
    for (const invalid of [{ read_audit: 'sampled' }, { read_audit: 'sampled', sample_percent: 100 }, { read_audit: 'every', sample_percent: 5 }, { read_audit: 'never' }]) {
      expect((await setting(org.admin.token, org.id, 'guests', invalid)).statusCode).toBe(400);
    }
    expect((await setting(org.admin.token, org.id, 'not a name', { read_audit: 'aggregated' })).statusCode).toBe(400);
    const other = await api.org();
    expect((await setting(org.admin.token, other.id, 'guests', { read_audit: 'aggregated' })).statusCode).toBe(404);

    const changed = await setting(org.admin.token, org.id, 'guests', { read_audit: 'sampled', sample_percent: 10 });
    expect(changed.json()).toEqual({ read_audit: 'sampled', sample_percent: 10 });
    const [entry] = (await chainEntries(state.t.db.database.db, org.id)).filter((row) => row.action === 'vault.read_audit_changed');
    expect(entry!.metadata).toEqual({ collection: 'guests', before: { read_audit: 'every' }, after: { read_audit: 'sampled', sample_percent: 10 } });
  });

  it('audits a random sample of reads, each entry marked with its rate', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    await withRecords(org, 'visits', 1);
    await setting(org.admin.token, org.id, 'visits', { read_audit: 'sampled', sample_percent: 1 });
    for (let index = 0; index < 100; index++) expect((await api.get(org.member.token, org.id, 'visits', 'r-0')).statusCode).toBe(200);
    // At 1 %, a hundred reads leave some out (all 100 audited has odds of 1e-200).
    const sampled = await reads(org, 'visits');
    expect(sampled.length).toBeLessThan(100);
    for (const entry of sampled) expect(entry.metadata).toMatchObject({ sampled_percent: 1 });

    await setting(org.admin.token, org.id, 'visits', { read_audit: 'sampled', sample_percent: 99 });
    for (let index = 0; index < 20; index++) await api.get(org.member.token, org.id, 'visits', 'r-0');
    // At 99 %, twenty reads leave at least one entry (none has odds of 1e-40).
    expect((await reads(org, 'visits')).length).toBeGreaterThan(sampled.length);
  });

  it('counts reads per reader and hour, and records each closed hour once', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    await withRecords(org, 'chats', 3);
    await setting(org.admin.token, org.id, 'chats', { read_audit: 'aggregated' });
    await api.get(org.member.token, org.id, 'chats', 'r-0');
    expect((await api.list(org.member.token, org.id, 'chats')).json<{ data: unknown[] }>().data).toHaveLength(3);
    await api.get(org.admin.token, org.id, 'chats', 'r-1');
    expect(await reads(org, 'chats')).toEqual([]);
    const counts = await withTenant(state.t.db.database.db, org.id, (trx) => trx.selectFrom('vault_read_counts').select(['actor_id', 'reads']).where('tenant_id', '=', org.id).orderBy('reads').execute());
    expect(counts).toEqual([
      { actor_id: org.admin.id, reads: 1 },
      { actor_id: org.member.id, reads: 4 },
    ]);

    // Before the hour is over nothing is recorded; after it, one entry per reader, and a second run adds none.
    await drainJobs(state.t);
    expect((await chainEntries(state.t.db.database.db, org.id)).filter((entry) => entry.action === 'record.reads_counted')).toEqual([]);
    clock.advance(61 * 60_000);
    await drainJobs(state.t);
    await drainJobs(state.t);
    const counted = (await chainEntries(state.t.db.database.db, org.id)).filter((entry) => entry.action === 'record.reads_counted');
    expect(counted.map((entry) => [entry.actor_id, entry.metadata]).sort()).toEqual(
      [
        [org.admin.id, { collection: 'chats', hour: '2026-03-02T09:00:00.000Z', reads: 1 }],
        [org.member.id, { collection: 'chats', hour: '2026-03-02T09:00:00.000Z', reads: 4 }],
      ].sort(),
    );
    expect(await withTenant(state.t.db.database.db, org.id, (trx) => trx.selectFrom('vault_read_counts').selectAll().where('tenant_id', '=', org.id).execute())).toEqual([]);
  });
});
