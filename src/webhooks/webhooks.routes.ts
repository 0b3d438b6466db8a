import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, requestMeta } from '../platform/http/index.js';
import { authorize } from '../tenancy/index.js';
import { CreatedEndpoint, DeliveryList, DeliveryQuery, EndpointInput, EndpointList, EndpointParams, OrgParams } from './webhooks.schemas.js';
import type { Webhooks } from './webhooks.service.js';

/**
 * Org webhook endpoints: settings of the org, so admins and owners (`settings:update`); no API
 * key scope grants it (a leaked key must not redirect erasure notices).
 */
export async function webhookRoutes(fastify: FastifyInstance, deps: { webhooks: Webhooks; requireUserOrKey: (request: FastifyRequest) => Promise<void> }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['webhooks'];
  const security = [{ bearer: [] }];
  const preHandler = deps.requireUserOrKey;
  const { webhooks } = deps;

  app.post(
    '/v1/orgs/:org/webhooks',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'Register a webhook endpoint; its signing secret is in this response only (admins)',
        params: OrgParams,
        body: EndpointInput,
        response: { 201: CreatedEndpoint, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => reply.status(201).send(await webhooks.create(authorize(request, 'settings:update'), request.body, requestMeta(request))),
  );

  app.get(
    '/v1/orgs/:org/webhooks',
    { preHandler, schema: { tags, security, summary: 'Webhook endpoints, without secrets (admins)', params: OrgParams, response: { 200: EndpointList, ...errorResponses(401, 403, 404) } } },
    async (request) => ({ data: await webhooks.list(authorize(request, 'settings:update')) }),
  );

  app.delete(
    '/v1/orgs/:org/webhooks/:id',
    { preHandler, schema: { tags, security, summary: 'Delete a webhook endpoint; pending deliveries to it stop (admins)', params: EndpointParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) } } },
    async (request, reply) => {
      await webhooks.remove(authorize(request, 'settings:update'), request.params.id, requestMeta(request));
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/orgs/:org/webhooks/:id/deliveries',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: "An endpoint's delivery attempts, newest first: status code or failure class, time, attempt (admins)",
        params: EndpointParams,
        querystring: DeliveryQuery,
        response: { 200: DeliveryList, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => webhooks.deliveries(authorize(request, 'settings:update'), request.params.id, request.query.limit, request.query.cursor ?? null),
  );
}
