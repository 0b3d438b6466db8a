import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from '../platform/http/index.js';
import type { BackupService } from './backup.service.js';

const LimitQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'How many drills, newest first' })) },
  { additionalProperties: false },
);

const Drill = Type.Object({
  id: Type.String({ format: 'uuid' }),
  backup_id: Type.String({ description: 'Empty when there was no backup to restore' }),
  started_at: Type.String({ format: 'date-time' }),
  duration_ms: Type.Integer({ description: 'Recovery time measured: start of the restore to verified' }),
  backup_age_seconds: Type.Union([Type.Integer(), Type.Null()], { description: 'Recovery point: age of the backup when the drill started' }),
  outcome: Type.Union([Type.Literal('passed'), Type.Literal('failed')]),
  details: Type.Record(Type.String(), Type.Unknown(), { description: 'What was checked (tables, rows, audit heads, records decrypted) or what failed; never row contents' }),
  statement: Type.Union([Type.String(), Type.Null()], { description: 'The exact JSON text signed (UTF-8); null on drills recorded before signing' }),
  signature: Type.Union([Type.String(), Type.Null()], { description: 'Ed25519 over `statement` (base64)' }),
  signing_kid: Type.Union([Type.String(), Type.Null()], { description: 'The `kid` of the key in `public_keys` that signed it' }),
});

const Drills = Type.Object({
  drills: Type.Array(Drill),
  public_keys: Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: 'Every Ed25519 public key (JWK) drills were signed with, retired ones included' }),
});

/** Restore drill results for platform staff and, later, the trust center: signed, with the keys to check them. */
export async function drillRoutes(fastify: FastifyInstance, deps: { service: BackupService; requirePlatform: (request: FastifyRequest) => Promise<void> }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/v1/platform/backups/drills',
    {
      preHandler: deps.requirePlatform,
      schema: {
        tags: ['platform'],
        security: [{ bearer: [] }],
        summary: 'Restore drill results, newest first, each signed; with the public keys that verify them',
        querystring: LimitQuery,
        response: { 200: Drills, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const drills = await deps.service.drills(request.query.limit ?? 20);
      return {
        drills: drills.map((drill) => ({ ...drill, started_at: drill.started_at.toISOString(), details: (drill.details ?? {}) as Record<string, unknown> })),
        public_keys: (await deps.service.drillKeys()) as Array<Record<string, unknown>>,
      };
    },
  );
}
