import type { Kysely } from 'kysely';
import { recordOrgAction } from '../tenancy/index.js';
import type { SecurityAction } from '../audit/index.js';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import type { OrgContext } from '../tenancy/index.js';
import { openEnvelope, parseHeader, UndecryptableError } from './envelope.js';
import { ErasedError } from './keyring.js';
import type { Keyring } from './keyring.js';
import * as repo from './records.repository.js';
import type { RecordRow } from './records.repository.js';
import type { ReadAudit } from './read-audit.js';
import { checkRead, checkWrite, readFlags } from './subject-flags.js';
import { vaultErrors } from './vault.errors.js';
import type { Category } from './vault.schemas.js';
import { NAME_PATTERN } from './vault.schemas.js';

export interface VaultRecord {
  collection: string;
  key: string;
  data: Record<string, unknown>;
  subject_id: string | null;
  category: Category;
  created_at: string;
  updated_at: string;
}

export interface RecordInput {
  data: Record<string, unknown>;
  subject_id?: string | null | undefined;
  category?: Category | undefined;
}

const NAME = new RegExp(NAME_PATTERN);

/** Refuses a collection or key name that is not a plain name (400 before anything else happens). */
export function checkNames(...names: string[]): void {
  if (!names.every((name) => NAME.test(name))) throw vaultErrors.invalid_name();
}

/** Maps the keyring's failures to the vault's errors: erased data is gone (404), moved data is refused (409). */
export async function readable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ErasedError) throw vaultErrors.erased();
    if (error instanceof UndecryptableError) throw vaultErrors.undecryptable();
    throw error;
  }
}

/**
 * Checks a subject's flags before a read of their data (erased: 404; restricted or objected: 403
 * unless an owner gives a reason, which is audited). No-op for data without a subject.
 */
export async function admitRead(trx: TenantTransaction, clock: Clock, context: OrgContext, subjectIndex: Buffer | null, target: { kind: 'record' | 'file'; collection?: string; key: string }, reason: string | null, meta: RequestMeta): Promise<void> {
  if (!subjectIndex) return;
  const admitted = checkRead(await readFlags(trx, context.tenantId, subjectIndex), context, reason);
  if (!admitted.readable) throw vaultErrors.erased();
  if (admitted.restrictedReason !== null) {
    await auditVault(trx, clock, context, 'subject.restricted_read', meta, { kind: target.kind, ...(target.collection ? { collection: target.collection } : {}), key: target.key, access_reason: admitted.restrictedReason });
  }
}

/** Refuses a write of data of a flagged subject (restricted, objected or being erased). */
export async function admitWrite(trx: TenantTransaction, tenantId: string, subjectIndex: Buffer | null): Promise<void> {
  if (subjectIndex) checkWrite(await readFlags(trx, tenantId, subjectIndex));
}

/** Audits an action on vault content by the request's actor, in the action's transaction. */
export function auditVault(trx: TenantTransaction, clock: Clock, context: OrgContext, action: SecurityAction, meta: RequestMeta, metadata: Record<string, unknown>): Promise<void> {
  return recordOrgAction(trx, clock.now(), context, action, meta, metadata);
}

/** Finds the data key an envelope names; ErasedError if it was shredded. */
export type KeyReader = (keyId: string) => Promise<Buffer>;

/**
 * Decrypts a record row (ErasedError if its subject was shredded, UndecryptableError if moved or
 * altered). `readKey` lets a caller reading many rows in one transaction look each data key up once.
 */
export async function openRecord(trx: TenantTransaction, keyring: Keyring, tenantId: string, row: RecordRow, readKey?: KeyReader): Promise<VaultRecord> {
  const place = { collection: row.collection, recordKey: row.record_key };
  // One record: the keyring's own decrypt (what the vault benchmark's plaintext baseline replaces).
  const open = async (envelope: Uint8Array, field: string) =>
    readKey ? openEnvelope(await readKey(parseHeader(envelope).keyId), envelope, { tenantId, ...place, field }) : keyring.decrypt(trx, tenantId, { ...place, field }, envelope);
  const data = await open(row.data_sealed, 'data');
  const subject = row.subject_sealed ? (await open(row.subject_sealed, 'subject_id')).toString('utf8') : null;
  return {
    collection: row.collection,
    key: row.record_key,
    data: JSON.parse(data.toString('utf8')) as Record<string, unknown>,
    subject_id: subject,
    category: row.category as Category,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * Vault records: JSON objects kept encrypted whole under the data key of their subject (or of the
 * tenant), found by subject through the blind index. Reads of a subject's records are audited.
 */
export function createRecords(deps: { db: Kysely<DB>; keyring: Keyring; clock: Clock; maxRecordBytes: number; readAudit: ReadAudit }) {
  const { db, keyring, clock, readAudit } = deps;

  return {
    async put(context: OrgContext, collection: string, key: string, input: RecordInput, meta: RequestMeta): Promise<{ record: VaultRecord; created: boolean }> {
      checkNames(collection, key);
      const json = Buffer.from(JSON.stringify(input.data), 'utf8');
      if (json.length > deps.maxRecordBytes) throw vaultErrors.record_too_large();
      const { tenantId } = context;
      const subjectId = input.subject_id ?? null;
      const category = input.category ?? 'other';
      return withTenant(db, tenantId, async (trx) => {
        const subjectIndex = subjectId === null ? null : keyring.subjectIndex(tenantId, subjectId);
        await admitWrite(trx, tenantId, subjectIndex);
        // Replacing a flagged subject's record with another subject's is a write of their data too.
        await admitWrite(trx, tenantId, (await repo.findRecord(trx, tenantId, collection, key))?.subject_index ?? null);
        const placement = { collection, recordKey: key };
        const dataSealed = await keyring.encrypt(trx, tenantId, subjectId, { ...placement, field: 'data' }, json);
        const subjectSealed = subjectId === null ? null : await keyring.encrypt(trx, tenantId, subjectId, { ...placement, field: 'subject_id' }, Buffer.from(subjectId, 'utf8'));
        const at = clock.now();
        const created = await repo.upsertRecord(trx, {
          tenant_id: tenantId,
          collection,
          record_key: key,
          data_key_id: parseHeader(dataSealed).keyId,
          data_sealed: dataSealed,
          subject_index: subjectIndex,
          subject_sealed: subjectSealed,
          category,
          at,
        });
        await auditVault(trx, clock, context, 'record.written', meta, { collection, key, category, created });
        const row = await repo.findRecord(trx, tenantId, collection, key);
        return {
          created,
          record: { collection, key, data: input.data, subject_id: subjectId, category, created_at: row!.created_at.toISOString(), updated_at: row!.updated_at.toISOString() },
        };
      });
    },

    async get(context: OrgContext, collection: string, key: string, meta: RequestMeta, accessReason: string | null = null): Promise<VaultRecord> {
      checkNames(collection, key);
      return withTenant(db, context.tenantId, async (trx) => {
        const row = await repo.findRecord(trx, context.tenantId, collection, key);
        if (!row) throw vaultErrors.not_found();
        await admitRead(trx, clock, context, row.subject_index, { kind: 'record', collection, key }, accessReason, meta);
        const record = await readable(() => openRecord(trx, keyring, context.tenantId, row));
        if (row.subject_index) await readAudit.recordRead(trx, context, collection, key, meta);
        return record;
      });
    },

    /**
     * A page of a collection. Records of flagged subjects (erased, restricted, objected) are left
     * out; a list of one flagged subject is checked like a read of theirs.
     */
    async list(context: OrgContext, collection: string, query: { subjectId: string | null; limit: number; cursor: string | null }, meta: RequestMeta, accessReason: string | null = null): Promise<{ data: VaultRecord[]; next_cursor: string | null }> {
      checkNames(collection);
      const afterKey = query.cursor === null ? null : Buffer.from(query.cursor, 'base64url').toString('utf8');
      if (afterKey !== null && !NAME.test(afterKey)) throw vaultErrors.invalid_cursor();
      const { tenantId } = context;
      return withTenant(db, tenantId, async (trx) => {
        const subjectIndex = query.subjectId === null ? null : keyring.subjectIndex(tenantId, query.subjectId);
        let includeFlagged = false;
        if (subjectIndex) {
          const flags = await readFlags(trx, tenantId, subjectIndex);
          if (flags.erased) return { data: [], next_cursor: null };
          await admitRead(trx, clock, context, subjectIndex, { kind: 'record', collection, key: '*' }, accessReason, meta);
          includeFlagged = true;
        }
        const rows = await repo.listRecords(trx, tenantId, collection, { subjectIndex, afterKey, limit: query.limit + 1, includeFlagged });
        const page = rows.slice(0, query.limit);
        const data: VaultRecord[] = [];
        for (const row of page) {
          const record = await readable(() => openRecord(trx, keyring, tenantId, row)).catch((error: unknown) => {
            // An erased subject's records are gone from lists; anything else still fails the list.
            if ((error as { code?: string }).code === 'erased') return null;
            throw error;
          });
          if (!record) continue;
          data.push(record);
          if (row.subject_index) await readAudit.recordRead(trx, context, collection, row.record_key, meta);
        }
        const last = page.at(-1);
        return { data, next_cursor: rows.length > query.limit && last ? Buffer.from(last.record_key, 'utf8').toString('base64url') : null };
      });
    },

    async remove(context: OrgContext, collection: string, key: string, meta: RequestMeta): Promise<void> {
      checkNames(collection, key);
      await withTenant(db, context.tenantId, async (trx) => {
        if (!(await repo.deleteRecord(trx, context.tenantId, collection, key))) throw vaultErrors.not_found();
        await auditVault(trx, clock, context, 'record.deleted', meta, { collection, key });
      });
    },
  };
}

export type Records = ReturnType<typeof createRecords>;
