import type { Insertable } from 'kysely';
import type { DB } from '../../src/platform/db/index.js';
import { parseHeader, sealEnvelope } from '../../src/vault/envelope.js';
import type { Vault } from '../../src/vault/index.js';

export type WritingKey = Awaited<ReturnType<Vault['keyring']['writingKey']>>;

export interface SeededRecord {
  tenantId: string;
  collection: string;
  recordKey: string;
  subjectId: string;
  subjectIndex: ReturnType<Vault['subjectIndex']>;
  data: Buffer;
  now: Date;
}

/**
 * A vault record row sealed exactly as the vault seals one (the subject's data key, an envelope per
 * field), for benchmarks that seed more records than the HTTP route could write in reasonable time.
 */
export function sealedRecordRow(writing: WritingKey, record: SeededRecord): Insertable<DB['vault_records']> {
  const place = { tenantId: record.tenantId, collection: record.collection, recordKey: record.recordKey };
  const dataSealed = sealEnvelope(writing.key, writing.header, { ...place, field: 'data' }, record.data);
  return {
    tenant_id: record.tenantId,
    collection: record.collection,
    record_key: record.recordKey,
    data_key_id: parseHeader(dataSealed).keyId,
    data_sealed: dataSealed,
    subject_index: record.subjectIndex,
    subject_sealed: sealEnvelope(writing.key, writing.header, { ...place, field: 'subject_id' }, Buffer.from(record.subjectId)),
    category: 'contact',
    created_at: record.now,
    updated_at: record.now,
  };
}
