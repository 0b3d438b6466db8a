import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { VaultConfig } from '../config.js';
import { createRootKeyProvider } from '../crypto/kms.js';
import type { RootKeyProvider } from '../crypto/root-key-provider.js';
import type { Clock } from '../platform/clock.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Logger } from '../platform/log/logger.js';
import { createS3Client } from '../platform/s3.js';
import { createLocalFileStore } from './file-store.js';
import { createS3FileStore } from './s3-file-store.js';
import type { FileStore } from './file-store.js';
import { fileRoutes } from './files.routes.js';
import { createFiles } from './files.service.js';
import { createKeyring } from './keyring.js';
import type { Keyring, Placement } from './keyring.js';
import { recordRoutes } from './records.routes.js';
import { createReadAudit } from './read-audit.js';
import { readAuditRoutes } from './read-audit.routes.js';
import { createRecords } from './records.service.js';
import { createOrgData } from './org-data.js';
import { registerRewrapJob } from './rewrap.job.js';
import { createSubjectData } from './subject-data.js';

export { UndecryptableError } from './envelope.js';
export { ErasedError } from './keyring.js';
export type { Keyring, Placement } from './keyring.js';
export { REWRAP_JOB, staleDataKeys } from './rewrap.job.js';
export { listTenantsWithKeys } from './keys.repository.js';
export { readErasureLedger, replayErasureLedger } from './erasure-ledger.js';
export type { ErasureEntry } from './erasure-ledger.js';
export { createKeyring } from './keyring.js';
export type { OrgData, OrgFile, OrgRecordPosition } from './org-data.js';
export { CATEGORIES } from './vault.schemas.js';
export { ACCESS_REASON_HEADER } from './subject-flags.js';
export type { SubjectFlag, SubjectFlags } from './subject-flags.js';
export type { SubjectData, SubjectFile, RecordPosition } from './subject-data.js';
export type { VaultRecord } from './records.service.js';

// Room for `subject_id`, `category` and the JSON around `data` in a PUT body.
const RECORD_ENVELOPE_BYTES = 64 * 1024;

export interface VaultDependencies {
  db: Kysely<DB>;
  config: VaultConfig;
  rootKey: Buffer;
  clock: Clock;
  jobs: JobQueue;
  logger: Logger;
  /** The app's keyring, shared with the audit log; by default one of the vault's own. */
  keyring?: Keyring;
  /** Tests and the benchmark swap these; by default the configured KMS and the local folder. */
  provider?: RootKeyProvider;
  store?: FileStore;
}

/** Where encrypted file blobs live: the configured bucket, or the local folder. Backups read blobs through it too. */
export function fileStoreFor(config: VaultConfig): FileStore {
  return config.s3 ? createS3FileStore(config.s3, createS3Client(config.s3)) : createLocalFileStore(config.fileDir);
}

/** The key hierarchy under the configured root key provider (local root key or KMS). */
export function keyringFor(config: VaultConfig, rootKey: Buffer, clock: Clock): Keyring {
  return createKeyring({ provider: createRootKeyProvider(config.kms, rootKey), rootKey, clock });
}

/**
 * Builds the vault: the key hierarchy under the root key provider, records and files, and the
 * rewrap job. Other modules use its encryption API for personal data they keep themselves
 * (docs/security-model.md "Using the vault from another module").
 */
export function createVault(deps: VaultDependencies) {
  const keyring = deps.keyring ?? (deps.provider ? createKeyring({ provider: deps.provider, rootKey: deps.rootKey, clock: deps.clock }) : keyringFor(deps.config, deps.rootKey, deps.clock));
  const readAudit = createReadAudit({ db: deps.db, jobs: deps.jobs, clock: deps.clock });
  const records = createRecords({ db: deps.db, keyring, clock: deps.clock, maxRecordBytes: deps.config.maxRecordBytes, readAudit });
  const store = deps.store ?? fileStoreFor(deps.config);
  const files = createFiles({ db: deps.db, keyring, clock: deps.clock, store, maxFileBytes: deps.config.maxFileBytes });
  registerRewrapJob(deps.jobs, deps.db, keyring, deps.logger);

  return {
    /**
     * Encrypts `plaintext` of a data subject (null: the tenant's own data) for its place (collection,
     * key, field), under the subject's data key: shredding the subject makes it unreadable.
     */
    encryptForSubject: (trx: TenantTransaction, tenantId: string, subjectId: string | null, placement: Placement, plaintext: Buffer): Promise<Buffer> =>
      keyring.encrypt(trx, tenantId, subjectId, placement, plaintext),
    /** Decrypts a value encrypted for the same place; throws ErasedError (shredded) or UndecryptableError (moved, altered). */
    decrypt: (trx: TenantTransaction, tenantId: string, placement: Placement, envelope: Buffer): Promise<Buffer> => keyring.decrypt(trx, tenantId, placement, envelope),
    /** Crypto-shreds a data subject: destroys their data keys and writes the erasure ledger entry, in `trx`. */
    shredSubject: (trx: TenantTransaction, tenantId: string, subjectId: string, requestId: string | null): Promise<{ destroyedKeys: number; ledgerEntryId: string; at: Date }> =>
      keyring.shredSubject(trx, tenantId, subjectId, requestId),
    /** The keyed blind index of a subject id in a tenant (what the erasure ledger and lookups hold). */
    subjectIndex: (tenantId: string, subjectId: string): Buffer => keyring.subjectIndex(tenantId, subjectId),
    /** A data subject's data across the vault, and their flags (data-subject requests). */
    subjects: createSubjectData({ db: deps.db, keyring, store, clock: deps.clock }),
    /** The whole org's records and files, and sealed blobs in the file store (whole-org export, retention). */
    orgData: createOrgData({ db: deps.db, keyring, store }),
    /** The key hierarchy itself: its cache, and the benchmark's plaintext baseline swaps its cipher. */
    keyring,
    /** A new tenant KEK version (rampart keys rotate --tenant). */
    rotateTenantKey: (tenantId: string): Promise<number> => keyring.rotateTenantKey(deps.db, tenantId),
    async register(app: FastifyInstance, requireUserOrKey: (request: FastifyRequest) => Promise<void>): Promise<void> {
      await app.register(recordRoutes, { records, requireUserOrKey, bodyLimit: deps.config.maxRecordBytes + RECORD_ENVELOPE_BYTES });
      await app.register(fileRoutes, { files, requireUserOrKey });
      await app.register(readAuditRoutes, { readAudit, requireUserOrKey });
    },
  };
}

export type Vault = ReturnType<typeof createVault>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The vault's encryption API, for modules that keep personal data of their own (and tests). */
    vault: Vault;
  }
}
