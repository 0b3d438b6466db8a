import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../../identity/index.js';
import { errorResponses, requestMeta } from '../../platform/http/index.js';
import { authorize } from '../../tenancy/index.js';
import { OrgParams } from '../settings/settings.schemas.js';
import type { OrgExports } from './org-export.service.js';

const Status = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('running')]),
  items_done: Type.Integer(),
  items_total: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
});
// The ZIP is a stream: Fastify sends it as is, the schema only documents it.
const Zip = Type.Unsafe<Readable>(Type.String({ format: 'binary', description: 'application/zip: the whole org; see docs/privacy.md "Whole-org export" for its layout' }));

/** Whole-org exports: owners only, with a step-up sign-in to ask for one. */
export async function orgExportRoutes(fastify: FastifyInstance, deps: { exports: OrgExports; requireUserOrKey: (request: FastifyRequest) => Promise<void> }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const common = { tags: ['privacy'], security: [{ bearer: [] }] };

  app.post(
    '/v1/orgs/:org/exports',
    {
      preHandler: deps.requireUserOrKey,
      schema: {
        ...common,
        summary: 'Export the whole organization as a ZIP (owners; a sign-in within ten minutes or the password); built by a job',
        params: OrgParams,
        body: Type.Optional(Type.Object({ password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Your password, when your sign-in is older than ten minutes' })) }, { additionalProperties: false })),
        response: { 202: Type.Object({ id: Type.String(), status: Type.Literal('pending') }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      return reply.status(202).send(await deps.exports.request(authorize(request, 'org:export'), principalOf(request), request.body?.password, requestMeta(request)));
    },
  );

  app.get(
    '/v1/orgs/:org/exports/:id',
    {
      preHandler: deps.requireUserOrKey,
      schema: {
        ...common,
        summary: 'The export: its progress while it is built (202), then the ZIP (200, each download audited) for 24 hours, then 410',
        params: Type.Object({ org: Type.String({ maxLength: 64 }), id: Type.String({ format: 'uuid' }) }),
        response: { 200: Zip, 202: Status, ...errorResponses(400, 401, 403, 404, 409, 410) },
      },
    },
    async (request, reply) => {
      const result = await deps.exports.fetch(authorize(request, 'org:export'), request.params.id, requestMeta(request));
      if (result.kind !== 'ready') {
        const { kind: _kind, ...status } = result;
        return reply.status(202).send(status);
      }
      return reply
        .header('content-type', 'application/zip')
        .header('content-length', String(result.size))
        .header('content-disposition', `attachment; filename="rampart-org-export-${result.id}.zip"`)
        .send(result.body);
    },
  );
}
