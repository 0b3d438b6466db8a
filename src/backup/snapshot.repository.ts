import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../platform/db/index.js';

/**
 * The only SQL of backups and restores. Everything goes through PostgreSQL's text
 * representation (`col::text` out, `text::type` in), which is lossless for every type and the
 * same on PGlite and PostgreSQL once the session settings below are fixed.
 */

export interface ColumnInfo {
  name: string;
  /** As format_type prints it (e.g. `timestamp with time zone`, `bytea[]`); the cast on restore. */
  type: string;
}

export interface TableInfo {
  name: string;
  columns: ColumnInfo[];
}

export interface SequenceState {
  name: string;
  last_value: number | null;
}

/** Fixes every setting that changes how a value prints, so a dump reads back identically anywhere. */
export async function fixTextFormat(trx: Transaction<DB>): Promise<void> {
  await sql`set local timezone = 'UTC'`.execute(trx);
  await sql`set local datestyle = 'ISO, YMD'`.execute(trx);
  await sql`set local intervalstyle = 'postgres'`.execute(trx);
  await sql`set local extra_float_digits = 3`.execute(trx);
  await sql`set local bytea_output = 'hex'`.execute(trx);
  // Fail rather than silently skip rows that row-level security would hide from this role.
  await sql`set local row_security = off`.execute(trx);
}

/**
 * Tables of the public schema in an order that satisfies their foreign keys, ties broken by
 * creation order (which is migration order). schema_migrations is left out: a restore rebuilds it
 * by running the same migrations.
 */
export async function listTables(db: Kysely<DB> | Transaction<DB>): Promise<TableInfo[]> {
  const tables = await sql<{ name: string; oid: number }>`
    select c.relname as name, c.oid::int8 as oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition and c.relname <> 'schema_migrations'
    order by c.oid`.execute(db);
  const edges = await sql<{ from_table: string; to_table: string }>`
    select src.relname as from_table, dst.relname as to_table from pg_constraint con
    join pg_class src on src.oid = con.conrelid join pg_class dst on dst.oid = con.confrelid
    join pg_namespace n on n.oid = src.relnamespace
    where con.contype = 'f' and n.nspname = 'public' and src.oid <> dst.oid`.execute(db);
  const columns = await sql<{ table: string; name: string; type: string }>`
    select c.relname as table, a.attname as name, format_type(a.atttypid, a.atttypmod) as type
    from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
    order by c.oid, a.attnum`.execute(db);
  const ordered = orderByDependencies(
    tables.rows.map((row) => row.name),
    edges.rows.map((edge) => [edge.from_table, edge.to_table] as const),
  );
  return ordered.map((name) => ({
    name,
    columns: columns.rows.filter((column) => column.table === name).map(({ name: column, type }) => ({ name: column, type })),
  }));
}

function orderByDependencies(names: string[], edges: ReadonlyArray<readonly [string, string]>): string[] {
  const placed = new Set<string>();
  const ordered: string[] = [];
  while (ordered.length < names.length) {
    const next = names.find((name) => !placed.has(name) && edges.every(([from, to]) => from !== name || placed.has(to) || !names.includes(to)));
    // A cycle of foreign keys: fall back to creation order for what is left (deferrable keys handle it).
    const pick = next ?? names.find((name) => !placed.has(name))!;
    placed.add(pick);
    ordered.push(pick);
  }
  return ordered;
}

/** The migrations applied to this database, in order. */
export async function readSchemaVersion(db: Kysely<DB> | Transaction<DB>): Promise<Array<{ version: number; name: string; checksum: string }>> {
  return db.selectFrom('schema_migrations').select(['version', 'name', 'checksum']).orderBy('version').execute();
}

export async function readSequences(trx: Transaction<DB>): Promise<SequenceState[]> {
  const result = await sql<SequenceState>`
    select sequencename as name, last_value from pg_sequences where schemaname = 'public' order by sequencename`.execute(trx);
  return result.rows;
}

export async function tableExists(db: Kysely<DB> | Transaction<DB>, name: string): Promise<boolean> {
  const result = await sql<{ exists: boolean }>`select to_regclass(${`public.${name}`}) is not null as exists`.execute(db);
  return result.rows[0]?.exists === true;
}

export interface ChainHead {
  tenant_id: string;
  size: number;
  head_hash: string;
}

/** Every audit chain's head (read only when the audit module's table exists). */
export async function readAuditHeads(db: Kysely<DB> | Transaction<DB>): Promise<ChainHead[]> {
  const result = await sql<ChainHead>`
    select tenant_id::text as tenant_id, size, encode(head_hash, 'hex') as head_hash from audit_heads order by tenant_id`.execute(db);
  return result.rows;
}

/**
 * Streams a table's rows as arrays of text (null stays null) through a cursor, `batchSize` rows
 * at a time, so memory stays flat whatever the table's size. Runs inside the snapshot transaction.
 */
export async function* streamRows(trx: Transaction<DB>, table: TableInfo, batchSize: number): AsyncGenerator<Array<Array<string | null>>> {
  const selectList = table.columns.map((column, index) => sql`${sql.ref(column.name)}::text as ${sql.ref(`c${index}`)}`);
  const cursor = sql.ref(`backup_${table.name}`);
  await sql`declare ${cursor} no scroll cursor for select ${sql.join(selectList)} from ${sql.table(table.name)}`.execute(trx);
  try {
    for (;;) {
      const { rows } = await sql<Record<string, string | null>>`fetch forward ${sql.lit(batchSize)} from ${cursor}`.execute(trx);
      if (rows.length === 0) return;
      yield rows.map((row) => table.columns.map((_, index) => row[`c${index}`] ?? null));
    }
  } finally {
    await sql`close ${cursor}`.execute(trx);
  }
}

/** Inserts a batch of text rows, each value cast back to its column's type. */
export async function insertRows(trx: Transaction<DB>, table: TableInfo, rows: Array<Array<string | null>>): Promise<void> {
  const columns = table.columns.map((column) => sql.ref(column.name));
  const arrays = table.columns.map((_, index) => rows.map((row) => row[index] ?? null));
  const unnested = sql.join(arrays.map((values) => sql`${values}::text[]`));
  const aliases = table.columns.map((_, index) => sql.ref(`c${index}`));
  const casts = table.columns.map((column, index) => sql`${sql.ref(`u.c${index}`)}::${sql.raw(column.type)}`);
  await sql`
    insert into ${sql.table(table.name)} (${sql.join(columns)}) overriding system value
    select ${sql.join(casts)} from unnest(${unnested}) as u(${sql.join(aliases)})`.execute(trx);
}

/** Empties tables the migrations seeded, so the backup's rows are the only ones. */
export async function emptyTables(trx: Transaction<DB>, names: string[]): Promise<void> {
  const seeded: string[] = [];
  for (const name of names) {
    const { rows } = await sql<{ any: boolean }>`select exists (select 1 from ${sql.table(name)}) as any`.execute(trx);
    if (rows[0]?.any) seeded.push(name);
  }
  if (seeded.length > 0) await sql`truncate ${sql.join(seeded.map((name) => sql.table(name)))} cascade`.execute(trx);
}

export async function restoreSequence(trx: Transaction<DB>, sequence: SequenceState): Promise<void> {
  if (sequence.last_value === null) return;
  await sql`select setval(${`public.${sequence.name}`}::regclass, ${sequence.last_value}, true)`.execute(trx);
}

export async function countRows(db: Kysely<DB> | Transaction<DB>, table: string): Promise<number> {
  const { rows } = await sql<{ count: number }>`select count(*)::int8 as count from ${sql.table(table)}`.execute(db);
  return rows[0]?.count ?? 0;
}

/** True when the database holds no table of its own (any schema but the system ones). */
export async function isEmptyDatabase(db: Kysely<DB>): Promise<boolean> {
  const { rows } = await sql<{ count: number }>`
    select count(*)::int8 as count from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'v', 'm', 'S') and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
      and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast_temp%'`.execute(db);
  return (rows[0]?.count ?? 0) === 0;
}

export async function serverVersion(db: Kysely<DB> | Transaction<DB>): Promise<string> {
  const { rows } = await sql<{ version: string }>`show server_version`.execute(db);
  return rows[0]?.version ?? 'unknown';
}
