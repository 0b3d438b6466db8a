/**
 * Tenant isolation is enforced by the database, not by care: request queries run as the
 * unprivileged `rampart_app` role with the tenant set for the transaction, and row-level security
 * (enabled and forced) hides every other tenant's rows. These tests attack that from both sides:
 * a query that forgets the tenant, and a tenant reaching for another's rows. They run on PGlite
 * and, with DATABASE_URL, on PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GLOBAL_TABLES, withTenant, withUser } from '../../src/platform/db/index.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';

const tenantA = randomUUID();
const tenantB = randomUUID();

describe('tenant isolation', () => {
  let t: TestDatabase;

  beforeAll(async () => {
    t = await createTestDatabase();
    const { db } = t.database;
    await db.insertInto('tenants').values([{ tenant_id: tenantA, name: 'A' }, { tenant_id: tenantB, name: 'B' }]).execute();
    // A tenant table built by the same rules as the real ones, so writes can be attacked too.
    await sql`
      create table notes (
        tenant_id uuid not null references tenants (tenant_id),
        note_id integer not null,
        body text not null,
        primary key (tenant_id, note_id)
      );
      alter table notes enable row level security;
      alter table notes force row level security;
      create policy notes_isolation on notes
        using (tenant_id = rampart_current_tenant())
        with check (tenant_id = rampart_current_tenant());
      grant select, insert, update, delete on notes to rampart_app;
    `.execute(db);
    await withTenant(db, tenantA, (trx) => trx.insertInto('notes' as never).values({ tenant_id: tenantA, note_id: 1, body: 'a' } as never).execute());
    await withTenant(db, tenantB, (trx) => trx.insertInto('notes' as never).values({ tenant_id: tenantB, note_id: 1, body: 'b' } as never).execute());
  }, 60_000);
  afterAll(async () => t.drop());

  it('shows nothing to a query that sets no tenant', async () => {
    const rows = await t.database.db.transaction().execute(async (trx) => {
      await sql`set local role rampart_app`.execute(trx);
      return {
        tenants: await sql`select * from tenants`.execute(trx),
        notes: await sql`select * from notes`.execute(trx),
      };
    });
    expect(rows.tenants.rows).toEqual([]);
    expect(rows.notes.rows).toEqual([]);
  });

  it('shows a tenant its own rows only', async () => {
    const seen = await withTenant(t.database.db, tenantA, async (trx) => ({
      tenants: await trx.selectFrom('tenants').select('tenant_id').execute(),
      notes: (await sql<{ tenant_id: string }>`select tenant_id from notes`.execute(trx)).rows,
    }));
    expect(seen.tenants).toEqual([{ tenant_id: tenantA }]);
    expect(seen.notes).toEqual([{ tenant_id: tenantA }]);
  });

  it('does not let a tenant change or delete another tenant’s rows', async () => {
    const counts = await withTenant(t.database.db, tenantA, async (trx) => ({
      updatedTenant: (await trx.updateTable('tenants').set({ name: 'pwned' }).where('tenant_id', '=', tenantB).executeTakeFirst()).numUpdatedRows,
      updatedNote: (await sql`update notes set body = 'pwned' where tenant_id = ${tenantB}`.execute(trx)).numAffectedRows,
      deletedNote: (await sql`delete from notes where tenant_id = ${tenantB}`.execute(trx)).numAffectedRows,
    }));
    expect(counts).toEqual({ updatedTenant: 0n, updatedNote: 0n, deletedNote: 0n });
    const b = await t.database.db.selectFrom('tenants').select('name').where('tenant_id', '=', tenantB).executeTakeFirstOrThrow();
    expect(b.name).toBe('B');
    const note = await sql<{ body: string }>`select body from notes where tenant_id = ${tenantB}`.execute(t.database.db);
    expect(note.rows).toEqual([{ body: 'b' }]);
  });

  it('refuses a row written into another tenant, and moving a row across tenants', async () => {
    await expect(
      withTenant(t.database.db, tenantA, (trx) => sql`insert into notes (tenant_id, note_id, body) values (${tenantB}, 2, 'x')`.execute(trx)),
    ).rejects.toThrow(/row-level security/);
    await expect(
      withTenant(t.database.db, tenantA, (trx) => sql`update notes set tenant_id = ${tenantB} where note_id = 1`.execute(trx)),
    ).rejects.toThrow(/row-level security/);
  });

  it('does not let the application role lift its own restrictions', async () => {
    // SET ROLE is checked against the session user, so it is no barrier to injected SQL (see
    // docs/security-model.md); what the role itself may do is what matters here.
    await expect(withTenant(t.database.db, tenantA, (trx) => sql`alter table notes disable row level security`.execute(trx))).rejects.toThrow();
    await expect(withTenant(t.database.db, tenantA, (trx) => sql`drop policy notes_isolation on notes`.execute(trx))).rejects.toThrow();
    const role = await sql<{ rolbypassrls: boolean; rolsuper: boolean }>`
      select rolbypassrls, rolsuper from pg_roles where rolname = 'rampart_app'`.execute(t.database.db);
    expect(role.rows).toEqual([{ rolbypassrls: false, rolsuper: false }]);
  });

  it('refuses a tenant id that is not a UUID before it reaches SQL', async () => {
    await expect(withTenant(t.database.db, "x' or 1=1 --", async () => 1)).rejects.toThrow(/UUID/);
  });

  it('rolls back the action when the work fails', async () => {
    await expect(
      withTenant(t.database.db, tenantA, async (trx) => {
        await sql`insert into notes (tenant_id, note_id, body) values (${tenantA}, 3, 'temp')`.execute(trx);
        throw new Error('fail after write');
      }),
    ).rejects.toThrow('fail after write');
    const rows = await sql`select 1 from notes where note_id = 3`.execute(t.database.db);
    expect(rows.rows).toEqual([]);
  });
});

describe('user-scoped reads across tenants', () => {
  let t: TestDatabase;
  const alice = randomUUID();
  const bob = randomUUID();

  beforeAll(async () => {
    t = await createTestDatabase();
    const { db } = t.database;
    await db.insertInto('users').values([
      { id: alice, email: `${alice}@example.test`, name: null, password_hash: null },
      { id: bob, email: `${bob}@example.test`, name: null, password_hash: null },
    ]).execute();
    await db.insertInto('tenants').values([{ tenant_id: tenantA, name: 'A' }, { tenant_id: tenantB, name: 'B' }]).execute();
    await db.insertInto('memberships').values([
      { tenant_id: tenantA, user_id: alice, role: 'owner' },
      { tenant_id: tenantB, user_id: bob, role: 'owner' },
    ]).execute();
  }, 60_000);
  afterAll(async () => t.drop());

  it("shows a user their own memberships and orgs, and nobody else's", async () => {
    const seen = await withUser(t.database.db, alice, async (trx) => ({
      memberships: await trx.selectFrom('memberships').select(['tenant_id', 'user_id']).execute(),
      tenants: await trx.selectFrom('tenants').select('tenant_id').execute(),
    }));
    expect(seen).toEqual({ memberships: [{ tenant_id: tenantA, user_id: alice }], tenants: [{ tenant_id: tenantA }] });
  });

  it('cannot write, even to the user’s own rows', async () => {
    await expect(
      withUser(t.database.db, alice, (trx) => trx.updateTable('memberships').set({ role: 'member' }).where('user_id', '=', alice).execute()),
    ).rejects.toThrow(/read-only/);
  });
});

interface TableFacts {
  table: string;
  has_tenant_id: boolean;
  pk_first: string | null;
  rls: boolean;
  forced: boolean;
  tenant_policies: number;
}

/**
 * Every table of the real schema, checked against the rules, so a migration that adds a table and
 * forgets isolation fails here. A table is tenant-owned unless it is listed in GLOBAL_TABLES.
 */
describe('schema catalog follows the tenant rules', () => {
  let t: TestDatabase;
  let facts: TableFacts[];

  beforeAll(async () => {
    t = await createTestDatabase();
    const result = await sql<TableFacts>`
      select c.relname as table,
        exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) as has_tenant_id,
        (select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
          where i.indrelid = c.oid and i.indisprimary) as pk_first,
        c.relrowsecurity as rls,
        c.relforcerowsecurity as forced,
        (select count(*)::int from pg_policy p where p.polrelid = c.oid
          and pg_get_expr(p.polqual, p.polrelid) like '%rampart_current_tenant()%'
          and pg_get_expr(p.polwithcheck, p.polrelid) like '%rampart_current_tenant()%') as tenant_policies
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p')
      order by c.relname`.execute(t.database.db);
    facts = result.rows;
  }, 60_000);
  afterAll(async () => t.drop());

  it('lists only global tables that exist and hold no tenant data', () => {
    for (const name of GLOBAL_TABLES) {
      const table = facts.find((fact) => fact.table === name);
      expect(table, `${name} is listed as global but does not exist`).toBeDefined();
      expect(table!.has_tenant_id, `${name} is listed as global but has a tenant_id column`).toBe(false);
    }
  });

  it('gives every other table tenant_id first in its primary key, forced RLS and a tenant policy', () => {
    const tenantTables = facts.filter((fact) => !(GLOBAL_TABLES as readonly string[]).includes(fact.table));
    expect(tenantTables.map((fact) => fact.table)).toContain('tenants');
    for (const table of tenantTables) {
      expect(table, `${table.table} must follow the tenant rules or be listed in GLOBAL_TABLES`).toMatchObject({
        has_tenant_id: true,
        pk_first: 'tenant_id',
        rls: true,
        forced: true,
      });
      expect(table.tenant_policies, `${table.table} needs a policy with USING and WITH CHECK on rampart_current_tenant()`).toBeGreaterThan(0);
    }
  });

  it('includes tenant_id first in every foreign key between tenant tables', async () => {
    const result = await sql<{ name: string; from_table: string; first_column: string; to_first_column: string }>`
      select con.conname as name, src.relname as from_table,
        (select attname from pg_attribute where attrelid = con.conrelid and attnum = con.conkey[1]) as first_column,
        (select attname from pg_attribute where attrelid = con.confrelid and attnum = con.confkey[1]) as to_first_column
      from pg_constraint con
      join pg_class src on src.oid = con.conrelid
      join pg_class dst on dst.oid = con.confrelid
      join pg_namespace n on n.oid = src.relnamespace
      where con.contype = 'f' and n.nspname = 'public'
        and exists (select 1 from pg_attribute a where a.attrelid = con.confrelid and a.attname = 'tenant_id')
        and exists (select 1 from pg_attribute a where a.attrelid = con.conrelid and a.attname = 'tenant_id')`.execute(t.database.db);
    for (const fk of result.rows) {
      expect({ fk: fk.name, from: fk.first_column, to: fk.to_first_column }).toEqual({ fk: fk.name, from: 'tenant_id', to: 'tenant_id' });
    }
  });

  it('never lets the application role own a table (owners can bypass policies)', async () => {
    const owned = await sql<{ relname: string }>`
      select c.relname from pg_class c join pg_roles r on r.oid = c.relowner
      where r.rolname = 'rampart_app'`.execute(t.database.db);
    expect(owned.rows).toEqual([]);
  });
});
