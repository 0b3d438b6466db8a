import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { VaultConfig } from '../config.js';
import { createRootKeyProvider } from '../crypto/kms.js';
import type { RootKeyProvider } from '../crypto/root-key-provider.js';
import type { Clock } from '../platform/clock.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Logger } from '../platform/log/logger.js';
import { createLocalFileStore } from './file-store.js';
import type { FileStore } from './file-store.js';
import { fileRoutes } from './files.routes.js';
import { createFiles } from './files.service.js';
import { createKeyring } from './keyring.js';
import type { Placement } from './keyring.js';
import { recordRoutes } from './records.routes.js';
import { createRecords } from './records.service.js';
import { registerRewrapJob } from './rewrap.job.js';

export { UndecryptableError } from './envelope.js';
export { ErasedError } from './keyring.js';
export type { Placement } from './keyring.js';
export { REWRAP_JOB, staleDataKeys } from './rewrap.job.js';
export { listTenantsWithKeys } from './keys.repository.js';
export { readErasureLedger, replayErasureLedger } from './erasure-ledger.js';
export type { ErasureEntry } from './erasure-ledger.js';
export { createKeyring } from './keyring.js';

// Room for `subject_id`, `category` and the JSON around `data` in a PUT body.
const RECORD_ENVELOPE_BYTES = 64 * 1024;

export interface VaultDependencies {
  db: Kysely<DB>;
  config: VaultConfig;
  rootKey: Buffer;
  clock: Clock;
  jobs: JobQueue;
  logger: Logger;
  /** Tests and the benchmark swap these; by default the configured KMS and the local folder. */
  provider?: RootKeyProvider;
  store?: FileStore;
}

/**
 * Builds the vault: the key hierarchy under the root key provider, records and files, and the
 * rewrap job. Other modules use its encryption API for personal data they keep themselves
 * (docs/security-model.md "Using the vault from another module").
 */
export function createVault(deps: VaultDependencies) {
  const keyring = createKeyring({ provider: deps.provider ?? createRootKeyProvider(deps.config.kms, deps.rootKey), rootKey: deps.rootKey, clock: deps.clock });
  const records = createRecords({ db: deps.db, keyring, clock: deps.clock, maxRecordBytes: deps.config.maxRecordBytes });
  const files = createFiles({ db: deps.db, keyring, clock: deps.clock, store: deps.store ?? createLocalFileStore(deps.config.fileDir), maxFileBytes: deps.config.maxFileBytes });
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
    shredSubject: (trx: TenantTransaction, tenantId: string, subjectId: string, requestId: string | null): Promise<{ destroyedKeys: number }> =>
      keyring.shredSubject(trx, tenantId, subjectId, requestId),
    /** The keyed blind index of a subject id in a tenant (what the erasure ledger and lookups hold). */
    subjectIndex: (tenantId: string, subjectId: string): Buffer => keyring.subjectIndex(tenantId, subjectId),
    /** The key hierarchy itself: its cache, and the benchmark's plaintext baseline swaps its cipher. */
    keyring,
    /** A new tenant KEK version (rampart keys rotate --tenant). */
    rotateTenantKey: (tenantId: string): Promise<number> => keyring.rotateTenantKey(deps.db, tenantId),
    async register(app: FastifyInstance, requireUserOrKey: (request: FastifyRequest) => Promise<void>): Promise<void> {
      await app.register(recordRoutes, { records, requireUserOrKey, bodyLimit: deps.config.maxRecordBytes + RECORD_ENVELOPE_BYTES });
      await app.register(fileRoutes, { files, requireUserOrKey });
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
