import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../identity/index.js';
import { errorResponses, requestMeta } from '../platform/http/index.js';
import type { ApiKeys } from './api-keys.service.js';
import type { OrgScopes } from './org-context.js';
import { SCOPES } from './permissions.js';
import { OrgParams } from './tenancy.schemas.js';

export interface ApiKeyRouteDependencies {
  apiKeys: ApiKeys;
  requireUser: (request: FastifyRequest) => Promise<void>;
  /** Each route's work runs in an org scope, which checks the caller inside the work's own transaction. */
  scopeOf: OrgScopes;
}

const Scope = Type.Enum(SCOPES);
const Time = Type.String({ format: 'date-time' });
const KeyParams = Type.Object({ org: Type.String({ maxLength: 64 }), id: Type.String({ format: 'uuid' }) });

const NewKey = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
    scopes: Type.Array(Scope, { minItems: 1, maxItems: SCOPES.length, uniqueItems: true }),
    expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Your password, when your sign-in is older than ten minutes' })),
  },
  { additionalProperties: false },
);
const IssuedKey = Type.Object({
  id: Type.String(),
  key: Type.String({ description: 'Shown this once; Rampart keeps only a keyed hash' }),
  name: Type.String(),
  scopes: Type.Array(Scope),
  expires_at: Type.Union([Time, Type.Null()]),
});
const KeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Scope),
  created_by: Type.String(),
  created_at: Time,
  expires_at: Type.Union([Time, Type.Null()]),
  last_used_at: Type.Union([Time, Type.Null()]),
  revoked_at: Type.Union([Time, Type.Null()]),
});

/** API keys of an organization (API.md "Organizations and access"): people manage them, keys never do. */
export async function apiKeyRoutes(fastify: FastifyInstance, deps: ApiKeyRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['organizations'];
  const security = [{ bearer: [] }];
  const asMember = { preHandler: deps.requireUser };
  const { apiKeys } = deps;

  app.post(
    '/v1/orgs/:org/api-keys',
    {
      ...asMember,
      schema: {
        tags,
        security,
        summary: 'Create an API key (admins and owners; a sign-in within ten minutes or the password); the key is shown this once',
        params: OrgParams,
        body: NewKey,
        response: { 201: IssuedKey, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { name, scopes, expires_in_days: expiresInDays, password } = request.body;
      const input = { name: name.trim(), scopes, ...(expiresInDays === undefined ? {} : { expiresInDays }), ...(password === undefined ? {} : { password }) };
      return reply.status(201).send(await apiKeys.issue(deps.scopeOf(request, 'api_keys:create'), principalOf(request), input, requestMeta(request)));
    },
  );

  app.get(
    '/v1/orgs/:org/api-keys',
    {
      ...asMember,
      schema: { tags, security, summary: 'API keys of the organization, without their secrets', params: OrgParams, response: { 200: Type.Object({ data: Type.Array(KeyView), next_cursor: Type.Null() }), ...errorResponses(401, 403, 404) } },
    },
    async (request) => ({ data: await apiKeys.list(deps.scopeOf(request, 'api_keys:read')), next_cursor: null }),
  );

  app.delete(
    '/v1/orgs/:org/api-keys/:id',
    {
      ...asMember,
      schema: { tags, security, summary: 'Revoke an API key; it stops working on its very next request', params: KeyParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      await apiKeys.revoke(deps.scopeOf(request, 'api_keys:revoke'), request.params.id, requestMeta(request));
      return reply.status(204).send(null);
    },
  );
}
