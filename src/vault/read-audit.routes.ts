import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, requestMeta } from '../platform/http/index.js';
import { authorize } from '../tenancy/index.js';
import type { ReadAudit, ReadAuditMode } from './read-audit.js';
import { checkNames } from './records.service.js';
import { CollectionParams } from './vault.schemas.js';

const ReadAuditSetting = Type.Union(
  [
    Type.Object({ read_audit: Type.Literal('every') }, { additionalProperties: false }),
    Type.Object({ read_audit: Type.Literal('sampled'), sample_percent: Type.Integer({ minimum: 1, maximum: 99 }) }, { additionalProperties: false }),
    Type.Object({ read_audit: Type.Literal('aggregated') }, { additionalProperties: false }),
  ],
  { description: 'every read audited (default); a random sample_percent % of reads; or one entry per reader and hour with the count' },
);

/** How reads of a collection's personal data are audited: members read it, admins change it. */
export async function readAuditRoutes(fastify: FastifyInstance, deps: { readAudit: ReadAudit; requireUserOrKey: (request: FastifyRequest) => Promise<void> }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const common = { tags: ['vault'], security: [{ bearer: [] }], params: CollectionParams };
  const path = '/v1/orgs/:org/vault/collections/:collection/read-audit';

  app.get(
    path,
    { preHandler: deps.requireUserOrKey, schema: { ...common, summary: "How reads of the collection's records with a data subject are audited (records:read)", response: { 200: ReadAuditSetting, ...errorResponses(400, 401, 403, 404) } } },
    async (request) => {
      const context = authorize(request, 'records:read');
      checkNames(request.params.collection);
      return deps.readAudit.mode(context, request.params.collection);
    },
  );

  app.put(
    path,
    {
      preHandler: deps.requireUserOrKey,
      schema: {
        ...common,
        summary: 'Audit every read, a sample of reads, or hourly counts per reader, for a high-volume collection (settings:update); audited',
        body: ReadAuditSetting,
        response: { 200: ReadAuditSetting, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const context = authorize(request, 'settings:update');
      checkNames(request.params.collection);
      return deps.readAudit.setMode(context, request.params.collection, request.body as ReadAuditMode, requestMeta(request));
    },
  );
}
