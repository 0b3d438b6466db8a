import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.js';
import type { DB } from '../platform/db/index.js';
import { listPublicKeys } from './signing-keys.js';

const Jwk = Type.Object({
  kty: Type.String(),
  crv: Type.String(),
  x: Type.String(),
  kid: Type.String(),
  alg: Type.String(),
  use: Type.String(),
});

export async function jwksRoutes(app: FastifyInstance, deps: { db: Kysely<DB>; clock: Clock }): Promise<void> {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['service'],
        summary: 'Public keys that verify access tokens (current and recently retired)',
        response: { 200: Type.Object({ keys: Type.Array(Jwk) }) },
      },
    },
    async (_request, reply) => {
      const keys = await listPublicKeys(deps.db, 'access-token', deps.clock.now());
      return reply.header('cache-control', 'public, max-age=300').send({ keys });
    },
  );
}
