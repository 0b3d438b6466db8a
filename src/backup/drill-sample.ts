import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'kysely';
import { withTenant } from '../platform/db/index.js';
import type { Database } from '../platform/db/index.js';
import type { Keyring } from '../vault/index.js';
import { createFileDecryptor, FILE_HEADER_BYTES, readFileHeader } from '../vault/file-cipher.js';
import { createLocalFileStore } from '../vault/file-store.js';
import { placeOf } from '../vault/files.service.js';
import { tableExists } from './snapshot.repository.js';

/** How many vault records a drill decrypts: enough to prove the keys open the data, bounded in time. */
export const DRILL_SAMPLE_RECORDS = 20;
/** And how many vault files: each is read whole, so fewer. */
export const DRILL_SAMPLE_FILES = 5;

export interface SampleResult {
  records_sampled: number;
  records_decrypted: number;
}

export interface FileSampleResult {
  files_sampled: number;
  files_decrypted: number;
}

/** A random sample of rows whose data key is live, across every tenant, past row-level security (as the restore itself ran). */
async function liveSample<Row>(restored: Database, table: 'vault_records' | 'vault_files', columns: ReturnType<typeof sql>, size: number): Promise<Row[]> {
  return restored.db.transaction().execute(async (trx) => {
    await sql`set local row_security = off`.execute(trx);
    const { rows } = await sql<Row>`
      select ${columns} from ${sql.table(table)} r join data_keys k on k.tenant_id = r.tenant_id and k.key_id = r.data_key_id
      where k.destroyed_at is null order by random() limit ${size}`.execute(trx);
    return rows;
  });
}

/**
 * Decrypts a random sample of vault records in a restored database with this instance's keys: row
 * counts and hashes prove the bytes came back, this proves the root key (or KMS key) still opens
 * them. Records of erased subjects are left out (their keys are destroyed on purpose). Throws on
 * the first record that does not decrypt.
 */
export async function decryptRecordSample(restored: Database, keyring: Keyring, size = DRILL_SAMPLE_RECORDS): Promise<SampleResult> {
  if (!(await tableExists(restored.db, 'vault_records'))) return { records_sampled: 0, records_decrypted: 0 };
  const sample = await liveSample<{ tenant_id: string; collection: string; record_key: string; data_sealed: Buffer }>(
    restored,
    'vault_records',
    sql`r.tenant_id::text as tenant_id, r.collection, r.record_key, r.data_sealed`,
    size,
  );
  let decrypted = 0;
  for (const row of sample) {
    try {
      await withTenant(restored.db, row.tenant_id, (trx) => keyring.decrypt(trx, row.tenant_id, { collection: row.collection, recordKey: row.record_key, field: 'data' }, row.data_sealed));
    } catch (error) {
      // Names the place, never the content.
      throw new Error(`vault record ${decrypted + 1} of the sample (collection "${row.collection.slice(0, 64)}") does not decrypt: ${error instanceof Error ? error.name : 'error'}`);
    }
    decrypted++;
  }
  return { records_sampled: sample.length, records_decrypted: decrypted };
}

/**
 * Decrypts a random sample of the restored vault files, each whole (every chunk authenticated),
 * from the files folder the restore wrote: the blobs came back, and the keys still open them.
 */
export async function decryptFileSample(restored: Database, keyring: Keyring, filesDir: string | null, size = DRILL_SAMPLE_FILES): Promise<FileSampleResult> {
  if (!filesDir || !(await tableExists(restored.db, 'vault_files'))) return { files_sampled: 0, files_decrypted: 0 };
  const store = createLocalFileStore(filesDir);
  const sample = await liveSample<{ tenant_id: string; file_key: string; blob_id: string }>(restored, 'vault_files', sql`r.tenant_id::text as tenant_id, r.file_key, r.blob_id::text as blob_id`, size);
  let decrypted = 0;
  for (const row of sample) {
    try {
      const header = readFileHeader(await store.head(row.tenant_id, row.blob_id, FILE_HEADER_BYTES));
      const key = await withTenant(restored.db, row.tenant_id, (trx) => keyring.readingKey(trx, row.tenant_id, header.keyId));
      const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
      await pipeline(store.read(row.tenant_id, row.blob_id, FILE_HEADER_BYTES), createFileDecryptor(key, header, placeOf(row.tenant_id, row.file_key, row.blob_id)), discard);
    } catch (error) {
      throw new Error(`vault file ${decrypted + 1} of the sample does not decrypt: ${error instanceof Error ? error.name : 'error'}`);
    }
    decrypted++;
  }
  return { files_sampled: sample.length, files_decrypted: decrypted };
}
