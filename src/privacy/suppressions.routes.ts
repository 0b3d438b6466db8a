import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, requestMeta } from '../platform/http/index.js';
import { authorize } from '../tenancy/index.js';
import { Added, CheckResult, EmailInput, ListQuery, OrgParams, SuppressionList } from './suppressions.schemas.js';
import type { Suppressions } from './suppressions.service.js';

/**
 * The opt-out list (API.md "Privacy"): consent:write adds and removes, consent:read checks and
 * lists. The check is a POST so the address never sits in a URL (access logs, proxies).
 */
export async function suppressionRoutes(fastify: FastifyInstance, deps: { suppressions: Suppressions; requireUserOrKey: (request: FastifyRequest) => Promise<void> }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['privacy'];
  const security = [{ bearer: [] }];
  const preHandler = deps.requireUserOrKey;
  const { suppressions } = deps;
  const path = '/v1/orgs/:org/suppressions';

  app.post(
    path,
    { preHandler, schema: { tags, security, summary: 'Put an address on the opt-out list (kept as a keyed hash only) (consent:write)', params: OrgParams, body: EmailInput, response: { 201: Added, 200: Added, ...errorResponses(400, 401, 403, 404) } } },
    async (request, reply) => {
      const { created } = await suppressions.add(authorize(request, 'consent:write'), request.body.email, requestMeta(request));
      return reply.status(created ? 201 : 200).send({ suppressed: true, created });
    },
  );

  app.get(
    path,
    { preHandler, schema: { tags, security, summary: 'The opt-out list, as keyed hashes (consent:read)', params: OrgParams, querystring: ListQuery, response: { 200: SuppressionList, ...errorResponses(400, 401, 403, 404) } } },
    async (request) => suppressions.list(authorize(request, 'consent:read'), request.query.limit, request.query.cursor ?? null),
  );

  app.post(
    `${path}/check`,
    { preHandler, schema: { tags, security, summary: 'Whether an address is on the opt-out list; the address is not stored (consent:read)', params: OrgParams, body: EmailInput, response: { 200: CheckResult, ...errorResponses(400, 401, 403, 404) } } },
    async (request) => suppressions.check(authorize(request, 'consent:read'), request.body.email),
  );

  app.delete(
    path,
    {
      // Authentication and the org before the body is validated: a DELETE to another tenant's list
      // must answer 404 whatever its body, like every org route (test/tenancy/isolation.property.test.ts).
      preValidation: preHandler,
      schema: { tags, security, summary: 'Take an address off the opt-out list; body {email} (consent:write)', params: OrgParams, body: EmailInput, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      await suppressions.remove(authorize(request, 'consent:write'), request.body.email, requestMeta(request));
      return reply.status(204).send(null);
    },
  );
}
