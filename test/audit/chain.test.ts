/**
 * The storage rules of the audit chain (migrations/0004_audit.sql, src/audit/chain.ts): an action
 * and its entry commit together or not at all; appends to one chain are serialized into a gapless
 * sequence, appends to different chains never wait for each other; and the database itself keeps
 * the log append-only, for the application role and for the owner alike, except through the
 * retention function.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordAuditEvent } from '../../src/audit/index.js';
import type { SecurityEvent } from '../../src/audit/index.js';
import { appendToChains } from '../../src/audit/chain.js';
import { verifyChain } from '../../src/audit/verify.js';
import { withTenant } from '../../src/platform/db/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { RELAXED_LIMITS } from '../identity/support.js';
import { apiKeyClient } from '../tenancy/api-key-support.js';
import { auditDb, burstDatabase, chainEntries, signCheckpoint } from './chain-support.js';
import { seedEntry } from './routes-support.js';

const onPostgres = Boolean(process.env.DATABASE_URL);

function orgEvent(tenantId: string, index: number): SecurityEvent {
  return { realm: 'user', tenantId, principalId: randomUUID(), action: 'org.settings_changed', ip: '192.0.2.1', userAgent: 'test', metadata: { before: { n: index }, after: { n: index + 1 } }, at: new Date() };
}

describe('audit chain storage', () => {
  let t: TestApp;
  let keys: ReturnType<typeof apiKeyClient>;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    keys = apiKeyClient(t);
  }, 60_000);
  afterAll(async () => t.close());

  const db = () => t.db.database.db;

  /** A tenant of its own: its entries' personal fields need the tenant's keys, and keys a tenant. */
  async function freshTenant(): Promise<string> {
    const tenantId = randomUUID();
    await t.db.database.db.insertInto('tenants').values({ tenant_id: tenantId, name: 'chain test' }).execute();
    return tenantId;
  }

  async function roleOf(orgId: string, userId: string) {
    return withTenant(db(), orgId, (trx) => trx.selectFrom('memberships').select('role').where('user_id', '=', userId).executeTakeFirst());
  }

  describe('an action and its entry commit together', () => {
    it('rolls the action back when its append fails', async () => {
      const org = await keys.org();
      const before = await chainEntries(db(), org.id);
      await sql`
        create function test_refuse_append() returns trigger language plpgsql as $$
        begin
          if new.action = 'member.role_changed' then raise exception 'append refused by the test'; end if;
          return new;
        end $$;
        create trigger test_refuse_append before insert on audit_entries for each row execute function test_refuse_append();
      `.execute(db());
      try {
        const changed = await keys.call(org.owner.token, 'PATCH', `/v1/orgs/${org.id}/members/${org.member.id}`, { role: 'admin' });
        expect(changed.statusCode).toBe(500);
      } finally {
        await sql`drop trigger test_refuse_append on audit_entries; drop function test_refuse_append();`.execute(db());
      }
      expect(await roleOf(org.id, org.member.id)).toEqual({ role: 'member' });
      expect(await chainEntries(db(), org.id)).toEqual(before);
    });

    it('leaves neither the action nor its entry when the transaction fails after the append', async () => {
      const org = await keys.org();
      const before = await chainEntries(db(), org.id);
      // Checked at commit, after the role change and its entry were written in the transaction.
      await sql`
        create function test_refuse_commit() returns trigger language plpgsql as $$
        begin raise exception 'commit refused by the test'; end $$;
        create constraint trigger test_refuse_commit after update on memberships deferrable initially deferred
          for each row execute function test_refuse_commit();
      `.execute(db());
      try {
        const changed = await keys.call(org.owner.token, 'PATCH', `/v1/orgs/${org.id}/members/${org.member.id}`, { role: 'admin' });
        expect(changed.statusCode).toBe(500);
      } finally {
        await sql`drop trigger test_refuse_commit on memberships; drop function test_refuse_commit();`.execute(db());
      }
      expect(await roleOf(org.id, org.member.id)).toEqual({ role: 'member' });
      expect(await chainEntries(db(), org.id)).toEqual(before);

      // The next action takes the seq the failed one did not keep: no gap.
      const changed = await keys.call(org.owner.token, 'PATCH', `/v1/orgs/${org.id}/members/${org.member.id}`, { role: 'admin' });
      expect(changed.statusCode, changed.body).toBe(200);
      const after = await chainEntries(db(), org.id);
      expect(after.map((row) => row.seq)).toEqual([...before.map((row) => row.seq), before.length]);
      expect(after.at(-1)!.action).toBe('member.role_changed');
    });

    it('leaves no entry when the work after the append throws', async () => {
      const tenantId = await freshTenant();
      await expect(
        withTenant(db(), tenantId, async (trx) => {
          await recordAuditEvent(trx, orgEvent(tenantId, 1));
          throw new Error('the action failed after its event');
        }),
      ).rejects.toThrow('the action failed after its event');
      expect(await chainEntries(db(), tenantId)).toEqual([]);
      expect(await verifyChain(db(), tenantId)).toEqual({ valid: true, entries: 0, head: null });
    });
  });

  it('gives 200 concurrent appends to one chain a gapless, valid sequence', { timeout: 120_000 }, async () => {
    const tenantId = await freshTenant();
    const burst = burstDatabase(t.db.database.db, t.db.url);
    try {
      await Promise.all(
        Array.from({ length: 200 }, (_, index) =>
          // Half as the org routes append (in the tenant's transaction), half through the seam's own transaction.
          index % 2 === 0 ? withTenant(auditDb(t, burst.db), tenantId, (trx) => recordAuditEvent(trx, orgEvent(tenantId, index))) : recordAuditEvent(auditDb(t, burst.db), orgEvent(tenantId, index)),
        ),
      );
    } finally {
      await burst.close();
    }
    const rows = await chainEntries(db(), tenantId);
    expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: 200 }, (_, index) => index));
    expect(new Set(rows.map((row) => (row.metadata as { before: { n: number } }).before.n)).size).toBe(200);
    const result = await verifyChain(db(), tenantId);
    expect(result).toMatchObject({ valid: true, entries: 200, head: { seq: 199, hash: Buffer.from(rows[199]!.hash).toString('hex') } });
  });

  it('appends to several chains at once in one transaction', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const appended = await appendToChains(db(), [
      { tenantId: b, entries: [seedEntry(0, new Date()), seedEntry(1, new Date())] },
      { tenantId: a, entries: [seedEntry(2, new Date())] },
    ]);
    expect(appended.map(({ tenantId, seq }) => ({ tenantId, seq })).sort((x, y) => x.tenantId.localeCompare(y.tenantId) || x.seq - y.seq)).toEqual(
      [{ tenantId: a, seq: 0 }, { tenantId: b, seq: 0 }, { tenantId: b, seq: 1 }].sort((x, y) => x.tenantId.localeCompare(y.tenantId) || x.seq - y.seq),
    );
    expect(await verifyChain(db(), a)).toMatchObject({ valid: true, entries: 1 });
    expect(await verifyChain(db(), b)).toMatchObject({ valid: true, entries: 2 });
  });

  // PGlite has one connection: a second transaction cannot run while one holds a lock.
  it.skipIf(!onPostgres)('does not make a chain wait for another chain’s lock (PostgreSQL)', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await appendToChains(db(), [{ tenantId: a, entries: [seedEntry(0, new Date())] }, { tenantId: b, entries: [seedEntry(0, new Date())] }]);
    const order: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = withTenant(db(), a, async (trx) => {
      await trx.selectFrom('audit_heads').select('size').where('tenant_id', '=', a).forUpdate().execute();
      locked();
      await released;
      order.push('a released');
    });
    await isLocked;
    const toA = appendToChains(db(), [{ tenantId: a, entries: [seedEntry(1, new Date())] }]).then(() => order.push('a appended'));
    // The append to B completes while A's head is still locked...
    await appendToChains(db(), [{ tenantId: b, entries: [seedEntry(1, new Date())] }]);
    order.push('b appended');
    // ...and the append to A is seen waiting for that lock before it is released.
    for (;;) {
      const waiting = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db());
      if (waiting.rows[0]!.n > 0) break;
    }
    release();
    await Promise.all([holder, toA]);
    expect(order).toEqual(['b appended', 'a released', 'a appended']);
    expect(await verifyChain(db(), a)).toMatchObject({ valid: true, entries: 2 });
  });

  describe('append-only in the database', () => {
    let tenantId: string;

    beforeAll(async () => {
      tenantId = randomUUID();
      await appendToChains(db(), [{ tenantId, entries: Array.from({ length: 4 }, (_, index) => seedEntry(index, new Date())) }]);
      await signCheckpoint(db(), tenantId);
    });

    it('refuses UPDATE, DELETE and TRUNCATE to the application role', async () => {
      for (const statement of [
        sql`update audit_entries set action = 'forged' where tenant_id = ${tenantId}`,
        sql`delete from audit_entries where tenant_id = ${tenantId}`,
        sql`truncate audit_entries`,
        sql`update audit_checkpoints set root = root where tenant_id = ${tenantId}`,
        sql`delete from audit_checkpoints where tenant_id = ${tenantId}`,
        sql`update audit_heads set archived_size = 1 where tenant_id = ${tenantId}`,
        sql`delete from audit_heads where tenant_id = ${tenantId}`,
        sql`select rampart_audit_archive(${tenantId}, 4)`,
      ]) {
        await expect(withTenant(db(), tenantId, (trx) => statement.execute(trx))).rejects.toThrow(/permission denied/);
      }
    });

    it('refuses them to the owner and superuser too, by trigger', async () => {
      for (const statement of [
        sql`update audit_entries set action = 'forged' where tenant_id = ${tenantId}`,
        sql`delete from audit_entries where tenant_id = ${tenantId}`,
        sql`truncate audit_entries`,
        sql`update audit_checkpoints set root = root where tenant_id = ${tenantId}`,
        sql`delete from audit_checkpoints where tenant_id = ${tenantId}`,
        sql`truncate audit_checkpoints`,
        sql`update audit_heads set size = 1 where tenant_id = ${tenantId}`,
        sql`update audit_heads set archived_size = 2 where tenant_id = ${tenantId}`,
        sql`delete from audit_heads where tenant_id = ${tenantId}`,
      ]) {
        await expect(statement.execute(db())).rejects.toThrow(/append-only|only moves forward|only through retention|never removed/);
      }
      expect(await chainEntries(db(), tenantId)).toHaveLength(4);
      expect(await verifyChain(db(), tenantId)).toMatchObject({ valid: true, entries: 4 });
    });

    it('lets the retention function remove a prefix up to a signed checkpoint, and what remains still verifies', async () => {
      const archive = (below: number) => sql<{ removed: number }>`select rampart_audit_archive(${tenantId}, ${below}) as removed`.execute(db());
      await expect(archive(3)).rejects.toThrow(/not a signed checkpoint/);
      await appendToChains(db(), [{ tenantId, entries: [seedEntry(4, new Date()), seedEntry(5, new Date())] }]);
      expect((await archive(4)).rows[0]!.removed).toBe(4);
      // Idempotent: the same boundary again removes nothing.
      expect((await archive(4)).rows[0]!.removed).toBe(0);
      expect((await chainEntries(db(), tenantId)).map((row) => row.seq)).toEqual([4, 5]);
      expect(await verifyChain(db(), tenantId)).toMatchObject({ valid: true, entries: 2, head: { seq: 5 } });

      // A second archival draws on the first boundary's frontier for the nodes it removed.
      await appendToChains(db(), [{ tenantId, entries: [seedEntry(6, new Date())] }]);
      await signCheckpoint(db(), tenantId);
      expect((await archive(7)).rows[0]!.removed).toBe(3);
      await appendToChains(db(), [{ tenantId, entries: [seedEntry(7, new Date())] }]);
      expect(await verifyChain(db(), tenantId)).toMatchObject({ valid: true, entries: 1, head: { seq: 7 } });
    });

    it('lists every chain to the table owner through rampart_audit_chains()', async () => {
      const { rows } = await sql<{ tenant_id: string; size: number; archived_size: number }>`select * from rampart_audit_chains()`.execute(db());
      expect(rows).toContainEqual({ tenant_id: tenantId, size: 8, archived_size: 7 });
    });
  });
});
