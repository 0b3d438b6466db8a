import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.js';
import type { App } from '../../src/app.js';
import { withAuditCipher } from '../../src/audit/index.js';
import { loadConfig } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import type { Clock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/log/logger.js';
import { createTestDatabase } from './database.js';
import type { TestDatabase } from './database.js';

export interface TestApp {
  app: App;
  config: Config;
  db: TestDatabase;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The raw log output, for searching for leaks. */
  rawLogs(): string;
  close(): Promise<void>;
}

/** A test root key: the real file-based default would write into the repository. */
export const TEST_ROOT_KEY = Buffer.alloc(32, 7).toString('base64');

/**
 * Builds an app on its own database copy. `env` overrides configuration variables exactly as an
 * operator would set them; REDIS_URL passes through so the suite also runs against Redis.
 */
export async function createTestApp(env: Record<string, string> = {}, options: { clock?: Clock; db?: TestDatabase; extend?: (app: App) => void } = {}): Promise<TestApp> {
  const config = loadConfig({
    RAMPART_DATA_DIR: '/nonexistent-test-data-dir',
    RAMPART_ROOT_KEY: TEST_ROOT_KEY,
    RAMPART_LOG_LEVEL: 'info',
    // A test that moves the clock by days would otherwise run a full backup and restore drill.
    RAMPART_BACKUP_SCHEDULE: 'off',
    RAMPART_BACKUP_DRILL_SCHEDULE: 'off',
    REDIS_URL: process.env.REDIS_URL,
    ...env,
  });
  const db = options.db ?? (await createTestDatabase());
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const app = await buildApp({ config, database: db.database, rootKey: Buffer.from(TEST_ROOT_KEY, 'base64'), logger, ...(options.clock ? { clock: options.clock } : {}) }).catch(async (error: unknown) => {
    // A configuration the test expects to be refused must not leave its database behind.
    if (!options.db) await db.drop();
    throw error;
  });
  options.extend?.(app);
  await app.ready();
  return {
    app,
    config,
    // Tests call modules directly with this handle; it carries the app's keyring as the app's own does (decision 0022).
    db: { ...db, database: { ...db.database, db: withAuditCipher(db.database.db, app.vault.keyring) } },
    get logs() {
      return chunks.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    rawLogs: () => chunks.join(''),
    async close() {
      await app.close();
      if (!options.db) await db.drop();
    },
  };
}
