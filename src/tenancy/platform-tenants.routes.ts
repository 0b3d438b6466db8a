import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { DB } from '../platform/db/index.js';
import { errorResponses } from '../platform/http/index.js';

const Tenant = Type.Object({
  id: Type.String(),
  name: Type.String(),
  plan: Type.String(),
  mfa_required_for: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  members: Type.Integer(),
  members_with_mfa: Type.Integer({ description: 'Members with a confirmed TOTP factor' }),
});
const Query = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ format: 'uuid', description: 'The last id of the previous page' })) },
  { additionalProperties: false },
);

interface TenantRow {
  id: string;
  name: string;
  plan: string;
  mfa_required_for: string;
  created_at: Date;
  members: number;
  members_with_mfa: number;
}

/**
 * One page of tenants for platform staff, read as `rampart_platform_reader` (migration 0012),
 * which sees the listed columns of every org and nothing else of theirs.
 */
export async function listTenantsForPlatform(db: Kysely<DB>, limit: number, after: string | null): Promise<TenantRow[]> {
  return db.transaction().execute(async (trx) => {
    await sql`set local role rampart_platform_reader`.execute(trx);
    await sql`set transaction read only`.execute(trx);
    const result = await sql<TenantRow>`
      select t.tenant_id::text as id, t.name, t.plan, t.mfa_required_for, t.created_at,
             count(m.user_id)::int as members, count(f.principal_id)::int as members_with_mfa
        from tenants t
        left join memberships m on m.tenant_id = t.tenant_id
        left join totp_factors f on f.realm = 'user' and f.principal_id = m.user_id and f.confirmed_at is not null
       where ${after === null ? sql`true` : sql`t.tenant_id > ${after}::uuid`}
       group by t.tenant_id
       order by t.tenant_id
       limit ${limit}`.execute(trx);
    return result.rows;
  });
}

/** GET /v1/platform/tenants: the platform console's list of orgs, with plan and MFA coverage. */
export async function platformTenantRoutes(fastify: FastifyInstance, deps: { db: Kysely<DB>; requirePlatform: (request: FastifyRequest) => Promise<void> }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/v1/platform/tenants',
    {
      preHandler: deps.requirePlatform,
      schema: {
        tags: ['platform'],
        security: [{ bearer: [] }],
        summary: 'Organizations with plan, MFA policy and MFA coverage (platform staff only); nothing the orgs store',
        querystring: Query,
        response: { 200: Type.Object({ data: Type.Array(Tenant), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const rows = await listTenantsForPlatform(deps.db, request.query.limit, request.query.cursor ?? null);
      const data = rows.map((row) => ({ ...row, created_at: new Date(row.created_at).toISOString() }));
      return { data, next_cursor: rows.length === request.query.limit ? (rows.at(-1)?.id ?? null) : null };
    },
  );
}
