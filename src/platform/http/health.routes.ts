import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Database } from '../db/index.js';
import { errorResponses, httpErrors } from './errors.js';

const READINESS_TIMEOUT_MS = 2000;

const Live = Type.Object({ status: Type.Literal('ok') });
const Ready = Type.Object({
  status: Type.Literal('ready'),
  checks: Type.Object({
    database: Type.Literal('ok'),
    redis: Type.Union([Type.Literal('ok'), Type.Literal('down'), Type.Literal('not_configured')], {
      description: 'Redis is optional: while it is down each node falls back to its own state',
    }),
  }),
});

/** Liveness (the process answers) and readiness (it can serve: the database answers). */
export async function healthRoutes(app: FastifyInstance, deps: { database: Database; redis: Redis | null }): Promise<void> {
  app.get(
    '/health/live',
    { schema: { tags: ['service'], summary: 'Liveness: the process is up', response: { 200: Live } }, config: { rateLimit: false } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['service'],
        summary: 'Readiness: 503 with Retry-After while the database is unreachable',
        response: { 200: Ready, ...errorResponses(503) },
      },
      config: { rateLimit: false },
    },
    async () => {
      try {
        await deps.database.ping(READINESS_TIMEOUT_MS);
      } catch {
        throw httpErrors.unavailable('The database is unreachable', { headers: { 'retry-after': '5' } });
      }
      return { status: 'ready' as const, checks: { database: 'ok' as const, redis: redisState(deps.redis) } };
    },
  );
}

function redisState(redis: Redis | null): 'ok' | 'down' | 'not_configured' {
  if (!redis) return 'not_configured';
  return redis.status === 'ready' ? 'ok' : 'down';
}
