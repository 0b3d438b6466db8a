import type { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, requestMeta } from '../../platform/http/index.js';
import type { RequestMeta } from '../../platform/http/index.js';
import { authorize } from '../../tenancy/index.js';
import type { OrgContext } from '../../tenancy/index.js';
import { Confirmation, ConfirmationInput, CreateDsr, DsrDetail, DsrList, DsrListQuery, DsrParams, DsrView, ExtensionInput, OrgParams, Receipt, StatusInput } from './dsr.schemas.js';
import type { Dsr } from './dsr.service.js';

export interface DsrRouteDependencies {
  dsr: Dsr;
  exportRequest: (context: OrgContext, requestId: string, meta: RequestMeta) => Promise<Readable>;
  receiptKeys: () => Promise<Array<Record<string, unknown>>>;
  requireUserOrKey: (request: FastifyRequest) => Promise<void>;
}

/**
 * Data-subject requests (API.md "Privacy"). Reading is `dsr:read` (every member, keys with the
 * scope); everything that acts on a subject's data or hands it out is `dsr:write` (owners, keys
 * with the scope: src/tenancy/permissions.ts).
 */
export async function dsrRoutes(fastify: FastifyInstance, deps: DsrRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['privacy'];
  const security = [{ bearer: [] }];
  const preHandler = deps.requireUserOrKey;
  const { dsr } = deps;
  const base = '/v1/orgs/:org/dsr';

  app.post(
    base,
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'Receive a data-subject request; due 30 days on. Erasure, restriction and objection flag the subject at once (dsr:write)',
        params: OrgParams,
        body: CreateDsr,
        response: { 201: DsrView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => reply.status(201).send(await dsr.create(authorize(request, 'dsr:write'), request.body, requestMeta(request))),
  );

  app.get(
    base,
    {
      preHandler,
      schema: { tags, security, summary: 'Requests, newest first; ?status=, ?overdue=true, ?due_within_days= (dsr:read)', params: OrgParams, querystring: DsrListQuery, response: { 200: DsrList, ...errorResponses(400, 401, 403, 404) } },
    },
    async (request) => dsr.list(authorize(request, 'dsr:read'), request.query),
  );

  app.get(
    `${base}/:id`,
    { preHandler, schema: { tags, security, summary: 'A request with its full history (dsr:read)', params: DsrParams, response: { 200: DsrDetail, ...errorResponses(400, 401, 403, 404) } } },
    async (request) => dsr.get(authorize(request, 'dsr:read'), request.params.id),
  );

  app.post(
    `${base}/:id/status`,
    {
      preHandler,
      schema: { tags, security, summary: 'Move a request to in_progress, completed, or rejected (with a reason) (dsr:write)', params: DsrParams, body: StatusInput, response: { 200: DsrView, ...errorResponses(400, 401, 403, 404, 409) } },
    },
    async (request) => dsr.setStatus(authorize(request, 'dsr:write'), request.params.id, request.body, requestMeta(request)),
  );

  app.post(
    `${base}/:id/extension`,
    {
      preHandler,
      schema: { tags, security, summary: 'Extend the deadline once by one or two months, with the reason (Art. 12(3)) (dsr:write)', params: DsrParams, body: ExtensionInput, response: { 200: DsrView, ...errorResponses(400, 401, 403, 404, 409) } },
    },
    async (request) => dsr.extend(authorize(request, 'dsr:write'), request.params.id, request.body, requestMeta(request)),
  );

  app.post(
    `${base}/:id/corrections`,
    {
      preHandler,
      schema: { tags, security, summary: "Apply a rectification request's corrections to the vault; old versions stay in the history while the request is open (dsr:write)", params: DsrParams, response: { 200: DsrView, ...errorResponses(400, 401, 403, 404, 409) } },
    },
    async (request) => dsr.applyCorrections(authorize(request, 'dsr:write'), request.params.id, requestMeta(request)),
  );

  app.post(
    `${base}/:id/confirmations`,
    {
      preHandler,
      schema: { tags, security, summary: 'The host application confirms it carried out an erasure in its own stores (dsr:write)', params: DsrParams, body: Type.Optional(ConfirmationInput), response: { 201: Confirmation, ...errorResponses(400, 401, 403, 404, 409) } },
    },
    async (request, reply) => reply.status(201).send(await dsr.confirm(authorize(request, 'dsr:write'), request.params.id, requestMeta(request))),
  );

  app.get(
    `${base}/:id/export`,
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'Access or portability: everything held about the subject as one JSON document, streamed (dsr:write)',
        params: DsrParams,
        response: { 200: Type.Unsafe<Readable>({ type: 'object', description: 'rampart-subject-export/1: records, files, processing flags, suppression, consents, audit entries, account' }), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const body = await deps.exportRequest(authorize(request, 'dsr:write'), request.params.id, requestMeta(request));
      return reply.header('content-type', 'application/json; charset=utf-8').header('content-disposition', `attachment; filename="subject-export-${request.params.id}.json"`).header('cache-control', 'no-store').send(body);
    },
  );

  app.get(
    `${base}/:id/receipt`,
    { preHandler, schema: { tags, security, summary: "A completed erasure's signed receipt (dsr:read)", params: DsrParams, response: { 200: Receipt, ...errorResponses(400, 401, 403, 404, 409) } } },
    async (request) => dsr.receipt(authorize(request, 'dsr:read'), request.params.id),
  );

  app.get(
    '/.well-known/rampart-receipt-keys.json',
    { schema: { tags, summary: 'Public keys that verify erasure receipts (every key ever used: old receipts keep verifying)', response: { 200: Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) }) } } },
    async () => ({ keys: await deps.receiptKeys() }),
  );
}
