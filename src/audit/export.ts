import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { withTenant } from '../platform/db/index.js';
import type { DB } from '../platform/db/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import type { AuditActor } from './canonical.js';
import { appendToChains } from './chain.js';
import { sealPersonal } from './personal.js';
import { entriesAfter } from './query.js';
import type { AuditEventView, AuditFilters } from './query.js';

export type ExportFormat = 'ndjson' | 'csv';

/** Rows per query: large enough to amortise a round trip, small enough to bound memory. */
const BATCH = 1_000;

/**
 * Entries [0, belowSeq) matching `filters`, oldest first, read in keyset batches, each in a short
 * transaction of its own: memory stays constant whatever the size, and a slow client never holds
 * a transaction (or PGlite's only connection) open while it reads.
 */
export async function* exportEntries(db: Kysely<DB>, tenantId: string, filters: AuditFilters, belowSeq: number): AsyncGenerator<AuditEventView> {
  let afterSeq = -1;
  for (;;) {
    const batch = await withTenant(db, tenantId, (trx) => entriesAfter(trx, tenantId, filters, { afterSeq, belowSeq, limit: BATCH }));
    yield* batch;
    if (batch.length < BATCH) return;
    afterSeq = batch[batch.length - 1]!.seq;
  }
}

/** The export as a byte stream in `format`: NDJSON (one event per line) or CSV with a header row. */
export function exportStream(events: AsyncIterable<AuditEventView>, format: ExportFormat): Readable {
  return Readable.from(format === 'csv' ? csvLines(events) : ndjsonLines(events), { objectMode: false });
}

async function* ndjsonLines(events: AsyncIterable<AuditEventView>): AsyncGenerator<string> {
  for await (const event of events) yield `${JSON.stringify(event)}\n`;
}

export const CSV_COLUMNS = ['id', 'seq', 'at', 'action', 'actor_type', 'actor_id', 'target_type', 'target_id', 'ip', 'user_agent', 'metadata', 'prev_hash', 'hash'] as const;

async function* csvLines(events: AsyncIterable<AuditEventView>): AsyncGenerator<string> {
  yield csvRow(CSV_COLUMNS);
  for await (const event of events) {
    yield csvRow([
      event.id,
      String(event.seq),
      event.at,
      event.action,
      event.actor.type,
      event.actor.id,
      event.target?.type ?? null,
      event.target?.id ?? null,
      event.ip,
      event.user_agent,
      JSON.stringify(event.metadata),
      event.prev_hash,
      event.hash,
    ]);
  }
}

function csvRow(cells: readonly (string | null)[]): string {
  return `${cells.map((cell) => csvCell(cell ?? '')).join(',')}\r\n`;
}

// A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"); a
// leading apostrophe makes it text. Actor ids, targets, user agents and metadata come from clients.
const FORMULA_START = /^[=+\-@\t\r]/;

/** One RFC 4180 cell, defused against formula injection. */
export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/**
 * Records the export in the org's chain (`audit.exported`) before a byte is sent, and returns its
 * seq: the export covers the entries before it, a snapshot that later appends do not change.
 */
export async function recordExport(
  db: Kysely<DB>,
  tenantId: string,
  details: { actor: AuditActor; at: Date; requestId: string; meta: RequestMeta; format: ExportFormat; filters: AuditFilters },
): Promise<number> {
  const [appended] = await withTenant(db, tenantId, async (trx) => {
    const id = randomUUID();
    const [sealed] = await sealPersonal(trx, tenantId, [{ entryId: id, subject: details.actor.type === 'user' && details.actor.id ? { type: 'user', id: details.actor.id } : null, fields: { ip: details.meta.ip, user_agent: details.meta.userAgent?.slice(0, 512) } }]);
    return appendToChains(trx, [
      {
        tenantId,
        entries: [
          {
            id,
            at: details.at,
            action: 'audit.exported',
            actor: details.actor,
            target: { type: 'org', id: tenantId },
            requestId: details.requestId,
            metadata: { format: details.format, filters: details.filters },
            ...sealed!,
          },
        ],
      },
    ]);
  });
  return appended!.seq;
}
