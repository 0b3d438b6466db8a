import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../platform/db/index.js';
import { entryHash, toStoredJson } from './canonical.js';
import type { ChainedEntry } from './canonical.js';
import { appendLeaf, leafHash } from './merkle.js';

/** The platform chain: realm-level events that belong to no organization. */
export const PLATFORM_CHAIN = '00000000-0000-0000-0000-000000000000';

const INSERT_CHUNK = 1000;

/**
 * One entry to append; the chain gives it its seq, prev_hash and hash, and an id unless it has
 * one already (encrypted personal fields are bound to their entry's id, so they are sealed first).
 */
export type NewAuditEntry = Omit<ChainedEntry, 'tenantId' | 'seq' | 'id' | 'prevHash'> & { id?: string };

export interface AppendedEntry {
  tenantId: string;
  seq: number;
  id: string;
  hash: Buffer;
}

export interface ChainAppend {
  tenantId: string;
  entries: NewAuditEntry[];
}

/** bytea comes back as a Uint8Array from PGlite, a Buffer from node-postgres; hex and equals need a Buffer. */
export function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export function toBuffers(values: readonly Uint8Array[]): Buffer[] {
  return values.map(toBuffer);
}

/**
 * Runs `work` with the transaction-local setting `name` (rampart.tenant_id or rampart.user_id) set
 * to `value`, then puts back what was set before. The identity module's unscoped transactions
 * write org chains, and a table owner without BYPASSRLS sees a tenant's rows only in its scope
 * (RLS is forced).
 */
export async function withLocalSetting<T>(trx: Transaction<DB>, name: 'rampart.tenant_id' | 'rampart.user_id', value: string, work: () => Promise<T>): Promise<T> {
  const { rows } = await sql<{ previous: string | null }>`
    select current_setting(${name}, true) as previous, set_config(${name}, ${value}, true)`.execute(trx);
  const previous = rows[0]?.previous ?? '';
  const result = await work();
  // A tenant transaction appending to its own chain had it set already.
  if (previous !== value) await sql`select set_config(${name}, ${previous}, true)`.execute(trx);
  return result;
}

/** Locks the chain's head (creating it at the first append): appends to one chain queue here. */
async function lockHead(trx: Transaction<DB>, tenantId: string) {
  const select = () => trx.selectFrom('audit_heads').select(['size', 'head_hash', 'frontier']).where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
  const head = await select();
  if (head) return head;
  await trx.insertInto('audit_heads').values({ tenant_id: tenantId }).onConflict((conflict) => conflict.column('tenant_id').doNothing()).execute();
  return (await select())!;
}

async function appendToChain(trx: Transaction<DB>, tenantId: string, entries: NewAuditEntry[]): Promise<AppendedEntry[]> {
  const head = await lockHead(trx, tenantId);
  let size = head.size;
  let prevHash = toBuffer(head.head_hash);
  let frontier = toBuffers(head.frontier);
  const rows = entries.map((entry) => {
    const chained: ChainedEntry = { ...entry, tenantId, seq: size, id: entry.id ?? randomUUID(), metadata: toStoredJson(entry.metadata), prevHash };
    const hash = entryHash(chained);
    const grown = appendLeaf(frontier, size, leafHash(hash));
    frontier = grown.frontier;
    prevHash = hash;
    size += 1;
    return {
      tenant_id: tenantId,
      seq: chained.seq,
      id: chained.id,
      at: chained.at,
      action: chained.action,
      actor_type: chained.actor.type,
      actor_id: chained.actor.id,
      target_type: chained.target?.type ?? null,
      target_id: chained.target?.id ?? null,
      request_id: chained.requestId,
      metadata: JSON.stringify(chained.metadata),
      personal: chained.personal,
      subject_id: chained.subjectId,
      prev_hash: chained.prevHash,
      hash,
      tree_nodes: grown.completed,
    };
  });
  // Bounded statements: PostgreSQL takes at most 65,535 parameters in one.
  for (let start = 0; start < rows.length; start += INSERT_CHUNK) await trx.insertInto('audit_entries').values(rows.slice(start, start + INSERT_CHUNK)).execute();
  await trx.updateTable('audit_heads').set({ size, head_hash: prevHash, frontier, updated_at: new Date() }).where('tenant_id', '=', tenantId).execute();
  return rows.map((row) => ({ tenantId, seq: row.seq, id: row.id, hash: row.hash }));
}

/**
 * Appends entries to one or more chains inside `executor`'s transaction, so they commit with the
 * action they record or not at all; given the root handle instead, it opens a transaction of its
 * own. Heads are locked in sorted tenant order, so two actions touching the same chains cannot
 * deadlock; appends to different chains never wait for each other.
 */
export async function appendToChains(executor: Kysely<DB>, appends: ChainAppend[]): Promise<AppendedEntry[]> {
  if (!executor.isTransaction) return executor.transaction().execute((trx) => appendToChains(trx, appends));
  const trx = executor as Transaction<DB>;
  const byChain = new Map<string, NewAuditEntry[]>();
  for (const { tenantId, entries } of appends) byChain.set(tenantId, [...(byChain.get(tenantId) ?? []), ...entries]);
  const appended: AppendedEntry[] = [];
  for (const tenantId of [...byChain.keys()].sort()) {
    const entries = byChain.get(tenantId)!;
    if (entries.length === 0) continue;
    appended.push(...(await withLocalSetting(trx, 'rampart.tenant_id', tenantId, () => appendToChain(trx, tenantId, entries))));
  }
  return appended;
}
