import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, requestMeta } from '../platform/http/index.js';
import { authorize } from '../tenancy/index.js';
import type { Records } from './records.service.js';
import { AccessReasonHeaders, CollectionParams, RecordInput, RecordList, RecordListQuery, RecordParams, RecordView } from './vault.schemas.js';

export interface RecordRouteDependencies {
  records: Records;
  requireUserOrKey: (request: FastifyRequest) => Promise<void>;
  /** The route's body limit: the record limit plus room for the JSON around `data`. */
  bodyLimit: number;
}

/** Vault records (API.md "Vault"): members by role, API keys by `records:read`/`records:write`. */
export async function recordRoutes(fastify: FastifyInstance, deps: RecordRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['vault'];
  const security = [{ bearer: [] }];
  const preHandler = deps.requireUserOrKey;
  const { records } = deps;
  const path = '/v1/orgs/:org/records/:collection/:key';

  app.put(
    path,
    {
      preHandler,
      bodyLimit: deps.bodyLimit,
      schema: {
        tags,
        security,
        summary: 'Create or replace a record; data and subject id are stored encrypted (records:write)',
        params: RecordParams,
        body: RecordInput,
        response: { 200: RecordView, 201: RecordView, ...errorResponses(400, 401, 403, 404, 413) },
      },
    },
    async (request, reply) => {
      const context = authorize(request, 'records:write');
      const { collection, key } = request.params;
      const { record, created } = await records.put(context, collection, key, request.body, requestMeta(request));
      return reply.status(created ? 201 : 200).send(record);
    },
  );

  app.get(
    path,
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'Read a record, decrypted; reads of records with a data subject are audited (records:read). A restricted subject needs an owner and x-rampart-access-reason',
        params: RecordParams,
        headers: AccessReasonHeaders,
        response: { 200: RecordView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { collection, key } = request.params;
      return records.get(authorize(request, 'records:read'), collection, key, requestMeta(request), request.headers['x-rampart-access-reason'] ?? null);
    },
  );

  app.get(
    '/v1/orgs/:org/records/:collection',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: "A collection's records in key order, or one data subject's (records:read)",
        params: CollectionParams,
        querystring: RecordListQuery,
        headers: AccessReasonHeaders,
        response: { 200: RecordList, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { subject_id: subjectId, limit, cursor } = request.query;
      const query = { subjectId: subjectId ?? null, limit, cursor: cursor ?? null };
      return records.list(authorize(request, 'records:read'), request.params.collection, query, requestMeta(request), request.headers['x-rampart-access-reason'] ?? null);
    },
  );

  app.delete(
    path,
    {
      preHandler,
      schema: { tags, security, summary: 'Delete a record (records:write)', params: RecordParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      const { collection, key } = request.params;
      await records.remove(authorize(request, 'records:write'), collection, key, requestMeta(request));
      return reply.status(204).send(null);
    },
  );
}
