import type { Config } from './config.js';
import { deriveKey, loadRootKey } from './crypto/root-key.js';
import { ensureSigningKey } from './crypto/signing-keys.js';
import { lockDataDir, prepareDataDir } from './platform/data-dir.js';
import { migrate, openPglite, openPostgres } from './platform/db/index.js';
import type { Database, MigrationProgress } from './platform/db/index.js';
import { checkDatabaseReachable } from './preflight.js';

/** What the server and the CLI both need before they can work: storage, keys, schema. */
export interface Runtime {
  config: Config;
  database: Database;
  rootKey: Buffer;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Apply pending migrations (the server does; `rampart status` must not). */
  migrate: boolean;
  onMigrationProgress?: MigrationProgress;
}

/**
 * Opens the data folder, the root key and the database. On the embedded default the data folder
 * is locked for this process: PGlite must never be opened by two processes at once.
 */
export async function openRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  await prepareDataDir(config.dataDir);
  const unlock = config.databaseUrl ? async () => undefined : await lockDataDir(config.dataDir);
  try {
    const rootKey = await loadRootKey(config.rootKey);
    const database = config.databaseUrl ? openPostgres(config.databaseUrl, config.databasePoolSize) : await openPglite(config.dataDir);
    try {
      await checkDatabaseReachable(database, config);
      if (options.migrate) {
        await migrate(database.db, options.onMigrationProgress);
        await ensureSigningKey(database.db, deriveKey(rootKey, 'signing-keys'), 'access-token');
      }
    } catch (error) {
      await database.close();
      throw error;
    }
    return {
      config,
      database,
      rootKey,
      async close() {
        await database.close();
        await unlock();
      },
    };
  } catch (error) {
    await unlock();
    throw error;
  }
}
