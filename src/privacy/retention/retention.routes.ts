import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, requestMeta } from '../../platform/http/index.js';
import { authorize } from '../../tenancy/index.js';
import { OrgParams } from '../settings/settings.schemas.js';
import type { Retention } from './retention.service.js';

// A vault collection name, or "@files" for a file.
const Collection = Type.String({ pattern: '^(@files|[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127})$', description: 'A vault collection, or "@files" to hold a file' });
const Key = Type.String({ pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$' });
const Hold = Type.Object({ collection: Type.String(), key: Type.String(), held_by: Type.String(), held_at: Type.String({ format: 'date-time' }) });

/** Legal holds (owners): what retention must never delete. */
export async function legalHoldRoutes(fastify: FastifyInstance, deps: { retention: Retention; requireUserOrKey: (request: FastifyRequest) => Promise<void> }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const common = { tags: ['privacy'], security: [{ bearer: [] }] };
  const { retention } = deps;

  app.get(
    '/v1/orgs/:org/legal-holds',
    { preHandler: deps.requireUserOrKey, schema: { ...common, summary: 'Records and files under legal hold (owners)', params: OrgParams, response: { 200: Type.Object({ data: Type.Array(Hold) }), ...errorResponses(401, 403, 404) } } },
    async (request) => ({ data: await retention.list(authorize(request, 'legal_holds:manage')) }),
  );

  app.post(
    '/v1/orgs/:org/legal-holds',
    {
      preHandler: deps.requireUserOrKey,
      schema: {
        ...common,
        summary: 'Put a record or file under legal hold: retention will not delete it (owners; audited, the reason kept as personal data)',
        params: OrgParams,
        body: Type.Object({ collection: Collection, key: Key, reason: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S' }) }, { additionalProperties: false }),
        response: { 201: Hold, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => reply.status(201).send(await retention.hold(authorize(request, 'legal_holds:manage'), request.body, requestMeta(request))),
  );

  app.delete(
    '/v1/orgs/:org/legal-holds/:collection/:key',
    {
      preHandler: deps.requireUserOrKey,
      schema: {
        ...common,
        summary: 'Lift a legal hold (owners; audited)',
        params: Type.Object({ org: Type.String({ maxLength: 64 }), collection: Collection, key: Key }),
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await retention.release(authorize(request, 'legal_holds:manage'), request.params.collection, request.params.key, requestMeta(request));
      return reply.status(204).send(null);
    },
  );
}
