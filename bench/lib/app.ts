import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import type { App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { fromPglite, migrate, PGLITE_PARSERS } from '../../src/platform/db/index.js';
import type { Database } from '../../src/platform/db/index.js';
import { createLogger } from '../../src/platform/log/logger.js';

/** An in-process app with one org and an API key of that org, for benchmarks of org-scoped routes. */
export interface BenchApp {
  app: App;
  /** Loopback address the app listens on, for requests that must cross a socket. */
  url: string;
  org: string;
  /** An API key of `org` with the scopes asked for. */
  key: string;
  database: Database;
  /** The app's data and vault file directory, removed on close. */
  dir: string;
  close(): Promise<void>;
}

export interface BenchAppOptions {
  /** Prefix of the temporary directory's name. */
  name: string;
  scopes: string[];
  /** Extra settings for loadConfig, over the defaults here (limits out of reach, backups off). */
  config?: Record<string, string>;
  /** Org settings to PATCH after creating the org. */
  orgSettings?: Record<string, unknown>;
}

/** Opens an in-memory, migrated PGlite. */
export async function openMemoryDatabase(): Promise<Database> {
  const database = fromPglite(await PGlite.create({ parsers: PGLITE_PARSERS }));
  await migrate(database.db);
  return database;
}

/**
 * An app on its own in-memory PGlite, listening on loopback, with a fresh account, an org and an
 * API key. Rate limits are set out of reach: the benchmark, not the limiter, sets the pace.
 */
export async function startBenchApp(options: BenchAppOptions): Promise<BenchApp> {
  const dir = await mkdtemp(join(tmpdir(), `${options.name}-`));
  const unreachable = '1000000';
  const config = loadConfig({
    RAMPART_DATA_DIR: dir,
    RAMPART_ROOT_KEY: randomBytes(32).toString('base64'),
    RAMPART_VAULT_FILE_DIR: dir,
    RAMPART_RATE_LIMIT_PER_IP: unreachable,
    RAMPART_RATE_LIMIT_AUTH_PER_IP: unreachable,
    RAMPART_RATE_LIMIT_PER_ACCOUNT: unreachable,
    RAMPART_BACKUP_SCHEDULE: 'off',
    RAMPART_BACKUP_DRILL_SCHEDULE: 'off',
    ...options.config,
  });
  const database = await openMemoryDatabase();
  const logger = createLogger('warn', pino.destination({ dest: '/dev/null', sync: false }));
  const app = await buildApp({ config, database, rootKey: Buffer.from(config.rootKey.source === 'env' ? config.rootKey.base64 : '', 'base64'), logger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const call = async (method: string, path: string, body: unknown, token?: string) => {
    const response = await app.inject({ method: method as 'POST', url: path, payload: body as object, headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${response.body}`);
    return response.json<Record<string, unknown>>();
  };
  const password = `bench ${randomBytes(12).toString('base64url')}`;
  const email = `bench.${randomBytes(6).toString('hex')}@bench.test`;
  await call('POST', '/v1/auth/signup', { email, password });
  const token = (await call('POST', '/v1/auth/login', { email, password })).access_token as string;
  const org = (await call('POST', '/v1/orgs', { name: 'Bench' }, token)).id as string;
  if (options.orgSettings) await call('PATCH', `/v1/orgs/${org}`, options.orgSettings, token);
  const key = (await call('POST', `/v1/orgs/${org}/api-keys`, { name: 'bench', scopes: options.scopes }, token)).key as string;
  return {
    app,
    url,
    org,
    key,
    database,
    dir,
    async close() {
      await app.close();
      await database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
