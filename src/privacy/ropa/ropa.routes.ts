import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from '../../platform/http/index.js';
import { authorize } from '../../tenancy/index.js';
import { OrgParams } from '../settings/settings.schemas.js';
import { renderRopaHtml } from './ropa.html.js';
import { Ropa } from './ropa.schemas.js';
import type { RopaGenerator } from './ropa.service.js';

/** Whether the caller asked for the printable page: `?format=html`, or a browser preferring HTML to JSON. */
function wantsHtml(format: 'json' | 'html' | undefined, accept: string): boolean {
  if (format) return format === 'html';
  return accept.includes('text/html') && !accept.startsWith('application/json');
}

/** GET /v1/orgs/{org}/ropa: the record of processing activities, JSON or a printable page. */
export async function ropaRoutes(fastify: FastifyInstance, deps: { ropa: RopaGenerator; requireUserOrKey: (request: FastifyRequest) => Promise<void> }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/v1/orgs/:org/ropa',
    {
      preHandler: deps.requireUserOrKey,
      schema: {
        tags: ['privacy'],
        security: [{ bearer: [] }],
        summary: 'Record of processing activities (GDPR Art. 30) generated from the vault and the privacy settings; JSON, or HTML with ?format=html or Accept: text/html',
        params: OrgParams,
        querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('html')])) }, { additionalProperties: false }),
        // The HTML page is a string the schema only documents; JSON is serialised by Ropa.
        response: { 200: Type.Union([Ropa, Type.Unsafe<string>(Type.String({ description: 'text/html' }))]), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const ropa = await deps.ropa.generate(authorize(request, 'org:read'));
      reply.header('vary', 'Accept');
      if (wantsHtml(request.query.format, request.headers.accept ?? '')) return reply.type('text/html; charset=utf-8').send(renderRopaHtml(ropa));
      return ropa;
    },
  );
}
