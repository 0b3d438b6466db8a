import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { DestinationStream } from 'pino';
import { Type } from 'typebox';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Config } from '../src/config.js';
import { fromPglite, migrate, PGLITE_PARSERS } from '../src/platform/db/index.js';
import { createLogger } from '../src/platform/log/logger.js';
import { serveBenchmarkChild } from './lib/child-server.js';
import type { Variant } from './pipeline.bench.js';

/**
 * One side of the pipeline benchmark, in its own process (see lib/child-server.ts):
 * `tsx bench/pipeline.server.ts <variant>` builds that app, adds the ping route and listens on a
 * free loopback port.
 */

// Every request comes from 127.0.0.1, one bucket; this high it is never emptied, yet each request
// still pays for the check. 1,000,000 a minute is the most the configuration accepts.
const UNREACHABLE_LIMIT = '1000000';

const PingResponse = Type.Object({ ok: Type.Boolean() });

/** The route under test, identical on both apps: it does no work, so only the pipeline is measured. */
function registerPing(app: FastifyInstance): void {
  app.get('/bench/ping', { schema: { response: { 200: PingResponse } } }, async () => ({ ok: true }));
}

async function buildVariant(variant: Variant): Promise<FastifyInstance> {
  switch (variant) {
    case 'bare':
      return Fastify();
    case 'rampart':
      // As in production (fd 1, asynchronous), so each line costs the same write calls.
      return buildRampart('info', pino.destination({ dest: '/dev/null', sync: false }));
    case 'rampart-null-stream':
      return buildRampart('info', { write: () => undefined });
    case 'rampart-no-logs':
      return buildRampart('silent', { write: () => undefined });
    default:
      throw new Error(`unknown variant "${String(variant)}"`);
  }
}

async function buildRampart(logLevel: Config['logLevel'], destination: DestinationStream): Promise<FastifyInstance> {
  // An explicit environment rather than process.env: DATABASE_URL or REDIS_URL in the shell would
  // otherwise change what is measured (a Redis round trip on every rate-limit check).
  const config = loadConfig({
    // Nothing reads it: the database is in memory and the root key is passed in below.
    RAMPART_DATA_DIR: join(tmpdir(), 'rampart-bench-unused'),
    RAMPART_LOG_LEVEL: logLevel,
    RAMPART_RATE_LIMIT_PER_IP: UNREACHABLE_LIMIT,
    RAMPART_RATE_LIMIT_AUTH_PER_IP: UNREACHABLE_LIMIT,
    RAMPART_RATE_LIMIT_PER_ACCOUNT: UNREACHABLE_LIMIT,
  });
  const database = fromPglite(await PGlite.create({ parsers: PGLITE_PARSERS }));
  await migrate(database.db);
  // A throwaway root key: keys derived from it only sign and seal, and the ping route does neither.
  const rootKey = randomBytes(32);
  const app = await buildApp({ config, database, rootKey, logger: createLogger(config.logLevel, destination) });
  app.addHook('onClose', () => database.close());
  return app;
}

const variant = process.argv[2] as Variant;
const app = await buildVariant(variant);
registerPing(app);
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
if (typeof address !== 'object' || address === null) throw new Error('the server is not listening on a TCP port');
serveBenchmarkChild(address.port);
