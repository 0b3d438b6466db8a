import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import argon2 from 'argon2';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Config } from '../src/config.js';
import { Me } from '../src/identity/identity.schemas.js';
import { fromPglite, migrate, openPostgres, PGLITE_PARSERS } from '../src/platform/db/index.js';
import type { Database } from '../src/platform/db/index.js';
import { createLogger } from '../src/platform/log/logger.js';
import { serveBenchmarkChild } from './lib/child-server.js';

/**
 * One side of the identity benchmark, in its own process (see lib/child-server.ts):
 *
 * - `rampart`: the real app on a fresh database (in-memory PGlite, or the PostgreSQL database named
 *   by BENCH_DATABASE_URL, which the benchmark creates and drops), listening on loopback.
 * - `bare <json>`: bare Fastify answering `GET /v1/me` with that JSON, through the same schema.
 * - `argon2`: no server; runs argon2id verifications on request (the sign-in baseline), so they
 *   get the same thread pool, process and machine as the app's.
 */

// Every request comes from 127.0.0.1, one bucket; this high it is never emptied, yet each request
// still pays for the check. 1,000,000 a minute is the most the configuration accepts.
const UNREACHABLE_LIMIT = '1000000';

/** An explicit configuration, so RAMPART_* or REDIS_URL in the shell cannot change what is measured. */
function benchConfig(): Config {
  return loadConfig({
    // Nothing reads it: the database is given below and the root key is passed in.
    RAMPART_DATA_DIR: join(tmpdir(), 'rampart-bench-unused'),
    RAMPART_LOG_LEVEL: 'info',
    RAMPART_RATE_LIMIT_PER_IP: UNREACHABLE_LIMIT,
    RAMPART_RATE_LIMIT_AUTH_PER_IP: UNREACHABLE_LIMIT,
    RAMPART_RATE_LIMIT_PER_ACCOUNT: UNREACHABLE_LIMIT,
  });
}

/** Messages between the benchmark and the `argon2` side. */
export type ToArgon2 = { type: 'verify'; seconds: number; concurrency: number };
export type FromArgon2 =
  | { type: 'ready'; params: Config['identity']['argon2']; threadPoolSize: string }
  | { type: 'verified'; count: number; seconds: number; latenciesMs: number[]; cpuMicros: number };

async function openDatabase(): Promise<Database> {
  const url = process.env.BENCH_DATABASE_URL;
  const database = url ? openPostgres(url, benchConfig().databasePoolSize) : fromPglite(await PGlite.create({ parsers: PGLITE_PARSERS }));
  await migrate(database.db);
  return database;
}

async function buildRampart(): Promise<FastifyInstance> {
  const config = benchConfig();
  const database = await openDatabase();
  // A throwaway root key: it only derives the keys that seal the signing key and hash tokens.
  const rootKey = randomBytes(32);
  // As in production (info, fd 1, asynchronous), so each line costs the same write calls.
  const logger = createLogger(config.logLevel, pino.destination({ dest: '/dev/null', sync: false }));
  const app = await buildApp({ config, database, rootKey, logger });
  app.addHook('onClose', () => database.close());
  return app;
}

function buildBare(json: string): FastifyInstance {
  const body = JSON.parse(json) as unknown;
  const app = Fastify();
  app.get('/v1/me', { schema: { response: { 200: Me } } }, async () => body);
  return app;
}

async function listen(app: FastifyInstance): Promise<void> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the server is not listening on a TCP port');
  serveBenchmarkChild(address.port);
}

/** The baseline: `concurrency` verifications kept in flight for `seconds`, as the app's sign-ins would be. */
async function serveArgon2(): Promise<void> {
  const params = benchConfig().identity.argon2;
  // The options src/identity/passwords.ts hashes with; verify reads them back from the hash.
  const options = { type: argon2.argon2id, memoryCost: params.memoryKiB, timeCost: params.timeCost, parallelism: params.parallelism } as const;
  const password = randomBytes(16).toString('base64url');
  const hash = await argon2.hash(password, options);
  const send = (message: FromArgon2) => process.send?.(message);
  process.on('message', (message: ToArgon2) => {
    if (message.type !== 'verify') return;
    void verifyFor(hash, password, message).then(send, (error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', params, threadPoolSize: process.env.UV_THREADPOOL_SIZE ?? 'unset (libuv default, 4)' });
}

async function verifyFor(hash: string, password: string, { seconds, concurrency }: ToArgon2): Promise<FromArgon2> {
  const latenciesMs: number[] = [];
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const sent = performance.now();
        if (!(await argon2.verify(hash, password))) throw new Error('argon2 verification failed');
        latenciesMs.push(performance.now() - sent);
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  // Verifications that end after `end` are counted, and so is the time they took.
  return { type: 'verified', count: latenciesMs.length, seconds: (performance.now() - start) / 1000, latenciesMs, cpuMicros: cpu.user + cpu.system };
}

const variant = process.argv[2];
switch (variant) {
  case 'rampart':
    await listen(await buildRampart());
    break;
  case 'bare':
    await listen(buildBare(process.argv[3] ?? '{}'));
    break;
  case 'argon2':
    await serveArgon2();
    break;
  default:
    throw new Error(`unknown variant "${String(variant)}"; expected rampart, bare or argon2`);
}
