import { sql } from 'kysely';
import type { TenantTransaction } from '../platform/db/index.js';
import { defineErrors } from '../platform/http/index.js';
import type { OrgContext } from '../tenancy/index.js';

/** What a data-subject request can put on a subject (migrations/0007_dsr.sql `subject_flags`). */
export type SubjectFlag = 'erased' | 'restricted' | 'objected';

export interface SubjectFlags {
  erased: boolean;
  restricted: boolean;
  objected: boolean;
}

const COLUMN = { erased: 'erased_at', restricted: 'restricted_at', objected: 'objected_at' } as const;
const NONE: SubjectFlags = { erased: false, restricted: false, objected: false };

export const subjectErrors = defineErrors({
  processing_restricted: { status: 403, message: "Processing of this data subject's data is restricted or objected to (GDPR Art. 18/21)" },
});

/** Header an owner sets to read a restricted subject's data; the reason goes into the audit log. */
export const ACCESS_REASON_HEADER = 'x-rampart-access-reason';

export async function readFlags(trx: TenantTransaction, tenantId: string, subjectIndex: Buffer): Promise<SubjectFlags> {
  const row = await trx.selectFrom('subject_flags').selectAll().where('tenant_id', '=', tenantId).where('subject_index', '=', subjectIndex).executeTakeFirst();
  if (!row) return NONE;
  return { erased: row.erased_at !== null, restricted: row.restricted_at !== null, objected: row.objected_at !== null };
}

/** Sets or clears one flag; a subject with no flag left has no row. */
export async function setFlag(trx: TenantTransaction, tenantId: string, subjectIndex: Buffer, flag: SubjectFlag, on: boolean, at: Date): Promise<void> {
  const column = COLUMN[flag];
  const value = on ? at : null;
  await trx
    .insertInto('subject_flags')
    .values({ tenant_id: tenantId, subject_index: subjectIndex, erased_at: null, restricted_at: null, objected_at: null, [column]: value, updated_at: at })
    .onConflict((conflict) => conflict.columns(['tenant_id', 'subject_index']).doUpdateSet({ [column]: value, updated_at: at }))
    .execute();
  await trx
    .deleteFrom('subject_flags')
    .where('tenant_id', '=', tenantId)
    .where('subject_index', '=', subjectIndex)
    .where('erased_at', 'is', null)
    .where('restricted_at', 'is', null)
    .where('objected_at', 'is', null)
    .execute();
}

/** A SQL condition for `vault_records`/`vault_files` rows: no erased, restricted or objected subject (lists leave those out). */
export function unflagged(table: 'vault_records' | 'vault_files') {
  return sql<boolean>`not exists (select 1 from subject_flags f where f.tenant_id = ${sql.ref(`${table}.tenant_id`)} and f.subject_index = ${sql.ref(`${table}.subject_index`)})`;
}

/**
 * Whether a read of a subject's data may go ahead, and the reason to audit when it is a restricted
 * read. Erased: gone (the caller answers 404). Restricted or objected: 403, except an owner (a
 * signed-in member, never a key) who states a reason.
 */
export function checkRead(flags: SubjectFlags, context: OrgContext, reason: string | null): { readable: boolean; restrictedReason: string | null } {
  if (flags.erased) return { readable: false, restrictedReason: null };
  if (!flags.restricted && !flags.objected) return { readable: true, restrictedReason: null };
  if (context.actor.type !== 'user' || context.role !== 'owner') throw subjectErrors.processing_restricted();
  if (!reason) throw subjectErrors.processing_restricted(`Restricted data can be read only by an owner giving a reason in the ${ACCESS_REASON_HEADER} header`);
  return { readable: true, restrictedReason: reason };
}

/** Writes for a flagged subject are refused: restricted or objected (no further processing), or being erased. */
export function checkWrite(flags: SubjectFlags): void {
  if (flags.erased || flags.restricted || flags.objected) throw subjectErrors.processing_restricted();
}
