import { randomUUID } from 'node:crypto';
import { PassThrough, pipeline as pipe, Transform, Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB } from '../platform/db/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import type { OrgContext } from '../tenancy/index.js';
import type { EnvelopeContext } from './envelope.js';
import { createFileDecryptor, createFileEncryptor, FILE_HEADER_BYTES, readFileHeader } from './file-cipher.js';
import type { FileStore } from './file-store.js';
import type { Keyring } from './keyring.js';
import * as repo from './records.repository.js';
import type { FileRow } from './records.repository.js';
import { admitRead, admitWrite, auditVault, checkNames, readable } from './records.service.js';
import { vaultErrors } from './vault.errors.js';

export interface FileView {
  key: string;
  size: number;
  content_type: string;
  created_at: string;
  updated_at: string;
}

export interface Upload {
  body: Readable;
  contentType: string;
  /** Content-Length when the client sent one: refused at once when over the limit. */
  declaredBytes: number | null;
  subjectId: string | null;
}

/** A blob's place, bound into every chunk: a blob copied to another file, tenant or version fails. */
export function placeOf(tenantId: string, key: string, blobId: string): EnvelopeContext {
  return { tenantId, collection: '@files', recordKey: key, field: `blob:${blobId}` };
}

function viewOf(row: FileRow): FileView {
  return { key: row.file_key, size: Number(row.size_bytes), content_type: row.content_type, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString() };
}

/** Counts bytes through, and fails once there are more than `limit`. */
function limitBytes(limit: number, counted: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      counted.bytes += chunk.length;
      if (counted.bytes > limit) return callback(vaultErrors.file_too_large());
      callback(null, chunk);
    },
  });
}

/**
 * The request body behind a stream of its own: a failed upload (over the limit) ends this one and
 * leaves the request itself alone, so the server can still answer 413 on its connection. A client
 * that goes away still fails the upload.
 */
function detached(body: Readable): Readable {
  const through = new PassThrough();
  body.on('error', (error) => through.destroy(error));
  return body.pipe(through);
}

/**
 * Vault files: streamed through chunked AES-256-GCM into the file store (constant memory), with
 * their metadata in the database. Downloads authenticate the whole blob before the first byte is
 * sent, so a tampered file is a clean 409, never a 200 cut short.
 */
export function createFiles(deps: { db: Kysely<DB>; keyring: Keyring; clock: Clock; store: FileStore; maxFileBytes: number }) {
  const { db, keyring, clock, store } = deps;

  async function decryptorFor(tenantId: string, row: FileRow) {
    const header = readFileHeader(await store.head(tenantId, row.blob_id, FILE_HEADER_BYTES));
    const key = await withTenant(db, tenantId, (trx) => keyring.readingKey(trx, tenantId, header.keyId));
    return () => createFileDecryptor(key, header, placeOf(tenantId, row.file_key, row.blob_id));
  }

  return {
    async put(context: OrgContext, key: string, upload: Upload, meta: RequestMeta): Promise<{ file: FileView; created: boolean }> {
      checkNames(key);
      if (upload.declaredBytes !== null && upload.declaredBytes > deps.maxFileBytes) throw vaultErrors.file_too_large();
      const { tenantId } = context;
      const subjectIndex = upload.subjectId === null ? null : keyring.subjectIndex(tenantId, upload.subjectId);
      const writing = await withTenant(db, tenantId, async (trx) => {
        await admitWrite(trx, tenantId, subjectIndex);
        await admitWrite(trx, tenantId, (await repo.findFile(trx, tenantId, key))?.subject_index ?? null);
        return keyring.writingKey(trx, tenantId, subjectIndex);
      });
      const blobId = randomUUID();
      const counted = { bytes: 0 };
      await store.write(tenantId, blobId, detached(upload.body), [limitBytes(deps.maxFileBytes, counted), createFileEncryptor(writing.key, writing.header, placeOf(tenantId, key, blobId))]);
      let replaced: string | null = null;
      try {
        const result = await withTenant(db, tenantId, async (trx) => {
          const at = clock.now();
          const outcome = await repo.upsertFile(trx, {
            tenant_id: tenantId,
            file_key: key,
            blob_id: blobId,
            data_key_id: writing.header.keyId,
            size_bytes: counted.bytes,
            content_type: upload.contentType,
            subject_index: subjectIndex,
            at,
          });
          await auditVault(trx, clock, context, 'file.written', meta, { key, size: counted.bytes, created: outcome.created });
          return { outcome, row: (await repo.findFile(trx, tenantId, key))! };
        });
        replaced = result.outcome.replacedBlob;
        return { file: viewOf(result.row), created: result.outcome.created };
      } catch (error) {
        await store.remove(tenantId, blobId);
        throw error;
      } finally {
        // After the commit: a crash before this leaves an unreferenced encrypted blob, never a dangling row.
        if (replaced) await store.remove(tenantId, replaced);
      }
    },

    /** The file's metadata and a stream of its plaintext, after the whole blob authenticated. */
    async get(context: OrgContext, key: string, meta: RequestMeta, accessReason: string | null = null): Promise<{ file: FileView; body: Readable }> {
      checkNames(key);
      const { tenantId } = context;
      const row = await withTenant(db, tenantId, async (trx) => {
        const found = await repo.findFile(trx, tenantId, key);
        if (!found) throw vaultErrors.not_found();
        await admitRead(trx, clock, context, found.subject_index, { kind: 'file', key }, accessReason, meta);
        if (found.subject_index) await auditVault(trx, clock, context, 'file.read', meta, { key });
        return found;
      });
      return readable(async () => {
        const decryptor = await decryptorFor(tenantId, row);
        await pipeline(store.read(tenantId, row.blob_id, FILE_HEADER_BYTES), decryptor(), new Writable({ write: (_chunk, _encoding, done) => done() }));
        // Read again: a chunk altered since the check still fails (the response is then cut short).
        const body = pipe(store.read(tenantId, row.blob_id, FILE_HEADER_BYTES), decryptor(), () => {});
        return { file: viewOf(row), body };
      });
    },

    async remove(context: OrgContext, key: string, meta: RequestMeta): Promise<void> {
      checkNames(key);
      const { tenantId } = context;
      const row = await withTenant(db, tenantId, async (trx) => {
        const deleted = await repo.deleteFile(trx, tenantId, key);
        if (!deleted) throw vaultErrors.not_found();
        await auditVault(trx, clock, context, 'file.deleted', meta, { key });
        return deleted;
      });
      await store.remove(tenantId, row.blob_id);
    },
  };
}

export type Files = ReturnType<typeof createFiles>;
