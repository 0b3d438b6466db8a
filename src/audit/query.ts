import type { Selectable } from 'kysely';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { httpErrors } from '../platform/http/index.js';
import { auditSubjectIndex, openPersonal } from './personal.js';
import type { AuditSubject } from './personal.js';

/** An entry as the API shows it (API.md "Audit log"). */
export interface AuditEventView {
  id: string;
  seq: number;
  at: string;
  action: string;
  actor: { type: string; id: string | null };
  target: { type: string; id: string | null } | null;
  ip: string | null;
  user_agent: string | null;
  metadata: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/** The list filters; every one is optional and they combine with AND. */
export interface AuditFilters {
  /** An action, or a prefix ending in `.*` (`member.*`). */
  action?: string;
  actorId?: string;
  targetId?: string;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
}

const COLUMNS = ['id', 'seq', 'at', 'action', 'actor_type', 'actor_id', 'target_type', 'target_id', 'metadata', 'personal', 'prev_hash', 'hash'] as const;
type EntryRow = Pick<Selectable<DB['audit_entries']>, (typeof COLUMNS)[number]>;

/**
 * One page of an org's events, newest first, strictly older than `beforeSeq` when given. Each
 * filter has its own index (tenant_id, column, seq) in migrations/0004_audit.sql, so a page reads
 * about `limit` rows whatever the size of the chain.
 */
export async function listEntries(trx: TenantTransaction, tenantId: string, filters: AuditFilters, options: { limit: number; beforeSeq?: number }): Promise<AuditEventView[]> {
  let query = (await filtered(trx, tenantId, filters)).select(COLUMNS).orderBy('seq', 'desc').limit(options.limit);
  if (options.beforeSeq !== undefined) query = query.where('seq', '<', options.beforeSeq);
  return toEventViews(trx, tenantId, await query.execute());
}

/** Up to `limit` entries after `afterSeq` (oldest first) and below `belowSeq`: one batch of an export. */
export async function entriesAfter(trx: TenantTransaction, tenantId: string, filters: AuditFilters, range: { afterSeq: number; belowSeq: number; limit: number }): Promise<AuditEventView[]> {
  const rows = await (await filtered(trx, tenantId, filters))
    .select(COLUMNS)
    .where('seq', '>', range.afterSeq)
    .where('seq', '<', range.belowSeq)
    .orderBy('seq', 'asc')
    .limit(range.limit)
    .execute();
  return toEventViews(trx, tenantId, rows);
}

/**
 * Up to `limit` entries about a data subject (a host application's subject id), oldest first,
 * after `afterSeq`: the audit part of an access request. Found by the subject's blind index.
 */
export async function entriesAboutSubject(trx: TenantTransaction, tenantId: string, subject: NonNullable<AuditSubject>, range: { afterSeq: number; limit: number }): Promise<AuditEventView[]> {
  const rows = await trx
    .selectFrom('audit_entries')
    .select(COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where('subject_id', '=', auditSubjectIndex(trx, tenantId, subject))
    .where('seq', '>', range.afterSeq)
    .orderBy('seq', 'asc')
    .limit(range.limit)
    .execute();
  return toEventViews(trx, tenantId, rows);
}

async function filtered(trx: TenantTransaction, tenantId: string, filters: AuditFilters) {
  let query = trx.selectFrom('audit_entries').where('tenant_id', '=', tenantId);
  if (filters.action !== undefined) {
    query = filters.action.endsWith('.*')
      ? // `_` is a LIKE wildcard and occurs in action names; the prefix is otherwise [a-z0-9.].
        query.where('action', 'like', `${filters.action.slice(0, -1).replaceAll('_', '\\_')}%`)
      : query.where('action', '=', filters.action);
  }
  if (filters.actorId !== undefined) query = query.where('actor_id', '=', filters.actorId);
  if (filters.targetId !== undefined) query = query.where('target_id', '=', filters.targetId);
  // A time bound also becomes a seq bound, found through the (tenant_id, at) index: entries are
  // appended in about time order, so a time window is about a seq range, and the scan stays inside
  // it instead of walking back from the newest entry (the planner cannot know that at and seq move
  // together). An entry's time is taken before its transaction waits for the chain's lock, so
  // neighbours may be out of order by that wait: the seq range is widened by APPEND_SKEW_MS, and
  // the exact time condition stays.
  if (filters.since !== undefined) {
    const from = await firstSeqAtOrAfter(trx, tenantId, new Date(filters.since.getTime() - APPEND_SKEW_MS));
    query = query.where('at', '>=', filters.since).where('seq', '>=', from ?? Number.MAX_SAFE_INTEGER);
  }
  if (filters.until !== undefined) {
    query = query.where('at', '<', filters.until);
    const below = await firstSeqAtOrAfter(trx, tenantId, new Date(filters.until.getTime() + APPEND_SKEW_MS));
    if (below !== null) query = query.where('seq', '<', below);
  }
  return query;
}

/** Far more than an append transaction can take (queries time out after 30 s). */
const APPEND_SKEW_MS = 5 * 60_000;

/** The first seq whose entry is at `time` or later, or null when none is: two index probes. */
async function firstSeqAtOrAfter(trx: TenantTransaction, tenantId: string, time: Date): Promise<number | null> {
  const row = await trx
    .selectFrom('audit_entries')
    .select((eb) => eb.fn.min('seq').as('seq'))
    .where('tenant_id', '=', tenantId)
    .where('at', '=', (eb) => eb.selectFrom('audit_entries as first').select((inner) => inner.fn.min('first.at').as('at')).where('first.tenant_id', '=', tenantId).where('first.at', '>=', time))
    .executeTakeFirst();
  return row?.seq ?? null;
}

/** Entries as the API shows them, personal fields decrypted (none once their subject was erased). */
async function toEventViews(trx: TenantTransaction, tenantId: string, rows: EntryRow[]): Promise<AuditEventView[]> {
  const personal = await openPersonal(trx, tenantId, rows.map((row) => ({ entryId: row.id, personal: row.personal })));
  return rows.map((row, index) => {
    const { fields } = personal[index]!;
    return {
      id: row.id,
      seq: row.seq,
      at: row.at.toISOString(),
      action: row.action,
      actor: { type: row.actor_type, id: row.actor_id },
      target: row.target_type === null ? null : { type: row.target_type, id: row.target_id },
      ip: typeof fields.ip === 'string' ? fields.ip : null,
      user_agent: typeof fields.user_agent === 'string' ? fields.user_agent : null,
      metadata: (row.metadata ?? {}) as Record<string, unknown>,
      // PGlite returns bytea as Uint8Array, pg as Buffer.
      prev_hash: Buffer.from(row.prev_hash).toString('hex'),
      hash: Buffer.from(row.hash).toString('hex'),
    };
  });
}

const CURSOR_PREFIX = 'seq:';

/** An opaque list cursor: the seq to continue below. It names no tenant; the query is tenant-scoped anyway. */
export function encodeCursor(seq: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${seq}`).toString('base64url');
}

/** The seq in a cursor; 400 for anything this API did not hand out. */
export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const seq = text.startsWith(CURSOR_PREFIX) ? Number(text.slice(CURSOR_PREFIX.length)) : Number.NaN;
  if (!Number.isSafeInteger(seq) || seq < 0 || encodeCursor(seq) !== cursor) throw httpErrors.invalid_request('The cursor is not valid; use next_cursor from a previous page');
  return seq;
}
